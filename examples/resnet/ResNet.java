package resnet;

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
 * torchvision's ResNet ({@code torchvision/models/resnet.py}) from libtorch modules, registered
 * under torchvision's attribute names in torchvision's order, so the state-dict keys are
 * torchvision's: {@code conv1.weight}, {@code bn1.running_mean}, {@code layer1.0.conv1.weight},
 * {@code layer2.0.downsample.0.weight}, {@code fc.bias}. ReLU, max-pooling and average pooling
 * hold no tensors and are functional here (torchvision's {@code relu}, {@code maxpool} and
 * {@code avgpool} attributes add no keys either).
 */
public final class ResNet extends Module {
    /** One residual block: {@code BasicBlock} (ResNet-18/34) or {@code Bottleneck} (ResNet-50 and up). */
    private abstract static class Block extends Module {
        /** torchvision's {@code downsample}: an {@code nn.Sequential(conv1x1, BatchNorm2d)}, or null. */
        Sequential downsample;

        abstract Tensor residual(Tensor x);

        Tensor forward(Tensor x) {
            Tensor identity = downsample == null ? x : downsample.forward(x);
            return torch.relu(residual(x).add(identity));
        }

        void downsample(long in, long out, long stride) {
            if (stride != 1 || in != out) {
                Sequential d = new Sequential();
                d.add(conv(in, out, 1, stride, 0));
                d.add(bn(out));
                downsample = register_module("downsample", d);
            }
        }
    }

    /** {@code BasicBlock}: two 3x3 convolutions, expansion 1. */
    private static final class BasicBlock extends Block {
        final Conv2dImpl conv1;
        final BatchNorm2dImpl bn1;
        final Conv2dImpl conv2;
        final BatchNorm2dImpl bn2;

        BasicBlock(long in, long planes, long stride) {
            conv1 = register_module("conv1", conv(in, planes, 3, stride, 1));
            bn1 = register_module("bn1", bn(planes));
            conv2 = register_module("conv2", conv(planes, planes, 3, 1, 1));
            bn2 = register_module("bn2", bn(planes));
            downsample(in, planes, stride);
        }

        @Override
        Tensor residual(Tensor x) {
            Tensor h = torch.relu(bn1.forward(conv1.forward(x)));
            return bn2.forward(conv2.forward(h));
        }
    }

    /** {@code Bottleneck}: 1x1, 3x3 (carrying the stride, torchvision's "ResNet V1.5"), 1x1; expansion 4. */
    private static final class Bottleneck extends Block {
        final Conv2dImpl conv1;
        final BatchNorm2dImpl bn1;
        final Conv2dImpl conv2;
        final BatchNorm2dImpl bn2;
        final Conv2dImpl conv3;
        final BatchNorm2dImpl bn3;

        Bottleneck(long in, long planes, long stride) {
            conv1 = register_module("conv1", conv(in, planes, 1, 1, 0));
            bn1 = register_module("bn1", bn(planes));
            conv2 = register_module("conv2", conv(planes, planes, 3, stride, 1));
            bn2 = register_module("bn2", bn(planes));
            conv3 = register_module("conv3", conv(planes, planes * 4, 1, 1, 0));
            bn3 = register_module("bn3", bn(planes * 4));
            downsample(in, planes * 4, stride);
        }

        @Override
        Tensor residual(Tensor x) {
            Tensor h = torch.relu(bn1.forward(conv1.forward(x)));
            h = torch.relu(bn2.forward(conv2.forward(h)));
            return bn3.forward(conv3.forward(h));
        }
    }

    /**
     * Python's {@code nn.Sequential}: children named "0", "1", ... in order. A plain module rather
     * than libtorch's {@code Sequential}, so forward stays in Java with the types known.
     */
    private static final class Sequential extends Module {
        private final java.util.List<java.util.function.UnaryOperator<Tensor>> steps = new java.util.ArrayList<>();

        void add(Conv2dImpl m) {
            steps.add(register_module(Integer.toString(steps.size()), m)::forward);
        }

        void add(BatchNorm2dImpl m) {
            steps.add(register_module(Integer.toString(steps.size()), m)::forward);
        }

        void add(Block b) {
            steps.add(register_module(Integer.toString(steps.size()), b)::forward);
        }

        Tensor forward(Tensor x) {
            for (var s : steps) {
                x = s.apply(x);
            }
            return x;
        }
    }

    private final Conv2dImpl conv1;
    private final BatchNorm2dImpl bn1;
    private final Sequential[] layers = new Sequential[4];
    private final LinearImpl fc;

    private ResNet(boolean bottleneck, int[] blocks, long numClasses) {
        conv1 = register_module("conv1", conv(3, 64, 7, 2, 3));
        bn1 = register_module("bn1", bn(64));
        long in = 64;
        long expansion = bottleneck ? 4 : 1;
        for (int i = 0; i < 4; i++) {
            long planes = 64L << i;
            Sequential layer = new Sequential();
            for (int b = 0; b < blocks[i]; b++) {
                long stride = i > 0 && b == 0 ? 2 : 1;
                layer.add(bottleneck ? new Bottleneck(in, planes, stride) : new BasicBlock(in, planes, stride));
                in = planes * expansion;
            }
            layers[i] = register_module("layer" + (i + 1), layer);
        }
        fc = register_module("fc", new LinearImpl(512 * expansion, numClasses));
    }

    /** {@code torchvision.models.resnet18()}: BasicBlocks [2, 2, 2, 2], 1000 classes. */
    public static ResNet resnet18() {
        return new ResNet(false, new int[] {2, 2, 2, 2}, 1000);
    }

    /** {@code torchvision.models.resnet50()}: Bottlenecks [3, 4, 6, 3], 1000 classes. */
    public static ResNet resnet50() {
        return new ResNet(true, new int[] {3, 4, 6, 3}, 1000);
    }

    /** Images {@code [N, 3, H, W]} to logits {@code [N, 1000]}. */
    public Tensor forward(Tensor x) {
        Tensor h = torch.relu(bn1.forward(conv1.forward(x)));
        h = torch.max_pool2d(h, new long[] {3, 3}, new long[] {2, 2}, new long[] {1, 1}, new long[] {1, 1}, false);
        for (Sequential layer : layers) {
            h = layer.forward(h);
        }
        h = torch.adaptive_avg_pool2d(h, 1, 1).flatten(1, -1);
        return fc.forward(h);
    }

    /** {@code nn.Conv2d(in, out, k, stride, padding, bias=False)}, as torchvision's conv3x3 and conv1x1. */
    private static Conv2dImpl conv(long in, long out, long k, long stride, long padding) {
        Conv2dOptions o = new Conv2dOptions(in, out, new LongPointer(k, k));
        o.stride().put(new LongPointer(stride, stride));
        o.padding().put(new LongPointer(padding, padding));
        o.bias().put(false);
        return new Conv2dImpl(o);
    }

    private static BatchNorm2dImpl bn(long features) {
        return new BatchNorm2dImpl(new BatchNormOptions(features));
    }
}
