package io.torchbridge.libtorch;

import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.BatchNorm2dImpl;
import org.bytedeco.pytorch.BatchNormOptions;
import org.bytedeco.pytorch.Conv1dImpl;
import org.bytedeco.pytorch.Conv1dOptions;
import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.Conv2dOptions;
import org.bytedeco.pytorch.EmbeddingImpl;
import org.bytedeco.pytorch.LayerNormImpl;
import org.bytedeco.pytorch.LayerNormOptions;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.LongVector;
import org.bytedeco.pytorch.Module;

/** The modules of fixtures/generate.py, built from libtorch modules under the same names. */
final class TestModels {
    private TestModels() {
    }

    /** generate.py's {@code Net} (module_net fixture). */
    static final class Net extends Module {
        final Conv1dImpl conv1d = register_module("conv1d",
                new Conv1dImpl(new Conv1dOptions(2, 3, new LongPointer(new long[] {3}))));
        final Conv2dImpl conv2d;
        final LayerNormImpl ln;
        final EmbeddingImpl emb;
        final LinearImpl fc;

        Net() {
            Conv2dOptions o = new Conv2dOptions(2, 3, new LongPointer(3L, 3L));
            o.padding().put(new LongPointer(1L, 1L));
            conv2d = register_module("conv2d", new Conv2dImpl(o));
            register_module("bn", new BatchNorm2dImpl(new BatchNormOptions(3)));
            ln = register_module("ln", new LayerNormImpl(new LayerNormOptions(new LongVector(new long[] {4}))));
            emb = register_module("emb", new EmbeddingImpl(10, 4));
            fc = register_module("fc", new LinearImpl(4, 2));
        }
    }

    /** fixtures/torchscript.py's {@code MLP} (the scripted_double, scripted_half and traced_double archives). */
    static final class Mlp extends Module {
        final LinearImpl fc1 = register_module("fc1", new LinearImpl(3, 4));
        final LinearImpl fc2 = register_module("fc2", new LinearImpl(4, 2));
    }

    /** generate.py's {@code Small} (training_* fixtures). */
    static final class Small extends Module {
        final LinearImpl fc1 = register_module("fc1", new LinearImpl(4, 3));
        final LinearImpl fc2 = register_module("fc2", new LinearImpl(3, 2));
    }
}
