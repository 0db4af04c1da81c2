package io.torchbridge.cli.demo;

import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.BatchNorm2dImpl;
import org.bytedeco.pytorch.BatchNormOptions;
import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.Conv2dOptions;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * The architectures of {@code fixtures/native_demo.py}, line for line, from libtorch's
 * {@code torch::nn} modules. Submodules are registered under the Python attribute names, in the
 * same order, so the state-dict keys and their order are Python's; ReLU and max-pooling are
 * functional on both sides, so neither module tree has extra entries. The class names are
 * Python's too, so error messages name the same class.
 */
public final class DemoModels {
    private DemoModels() {
    }

    /** A model the demo trains: its forward pass. */
    public interface Net {
        Tensor forward(Tensor x);

        Module module();
    }

    /** {@code MLP}: 16 -> 32 -> 16 -> 4. (Upper case: Python's class name, which error messages show.) */
    public static final class MLP extends Module implements Net {
        final LinearImpl fc1 = register_module("fc1", new LinearImpl(16, 32));
        final LinearImpl fc2 = register_module("fc2", new LinearImpl(32, 16));
        final LinearImpl fc3 = register_module("fc3", new LinearImpl(16, 4));

        @Override
        public Tensor forward(Tensor x) {
            return fc3.forward(torch.relu(fc2.forward(torch.relu(fc1.forward(x)))));
        }

        @Override
        public Module module() {
            return this;
        }
    }

    /** {@code CNN}: two conv/batchnorm/relu/max-pool blocks on 1x12x12 images, then a linear head to 5 classes. */
    public static final class CNN extends Module implements Net {
        final Conv2dImpl conv1 = register_module("conv1", new Conv2dImpl(conv(1, 6)));
        final BatchNorm2dImpl bn1 = register_module("bn1", new BatchNorm2dImpl(new BatchNormOptions(6)));
        final Conv2dImpl conv2 = register_module("conv2", new Conv2dImpl(conv(6, 12)));
        final BatchNorm2dImpl bn2 = register_module("bn2", new BatchNorm2dImpl(new BatchNormOptions(12)));
        final LinearImpl fc = register_module("fc", new LinearImpl(12 * 3 * 3, 5));

        @Override
        public Tensor forward(Tensor x) {
            Tensor h = torch.max_pool2d(torch.relu(bn1.forward(conv1.forward(x))), 2, 2);
            h = torch.max_pool2d(torch.relu(bn2.forward(conv2.forward(h))), 2, 2);
            return fc.forward(h.flatten(1, -1));
        }

        @Override
        public Module module() {
            return this;
        }

        /** {@code nn.Conv2d(in, out, 3, padding=1)}. */
        private static Conv2dOptions conv(long in, long out) {
            Conv2dOptions o = new Conv2dOptions(in, out, new LongPointer(3L, 3L));
            o.padding().put(new LongPointer(1L, 1L));
            return o;
        }
    }
}
