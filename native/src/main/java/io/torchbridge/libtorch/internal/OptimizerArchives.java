package io.torchbridge.libtorch.internal;

import java.io.ByteArrayOutputStream;
import java.util.HashSet;
import java.util.Set;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.ArchiveWriter;
import org.bytedeco.pytorch.IValue;
import org.bytedeco.pytorch.InputArchive;
import org.bytedeco.pytorch.Optimizer;
import org.bytedeco.pytorch.OutputArchive;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * libtorch's optimizer state through its own serialization archives, the only door the presets
 * open to it: {@code Optimizer::state()} is not mapped, but {@code save(OutputArchive)} and
 * {@code load(InputArchive)} are (torch/csrc/api/include/torch/optim/serialize.h). The layout
 * there: {@code pytorch_version = "1.5.0"}; {@code state/<TensorImpl address>/{step, exp_avg, ...}};
 * {@code param_groups/{param_groups/size, param_groups/<i>/{params/size, params/<j> = address,
 * options/{lr, ...}}}}. Archives travel as in-memory bytes, never through a file.
 */
public final class OptimizerArchives {
    private static final ThreadLocal<ByteArrayOutputStream> SINK = new ThreadLocal<>();
    /** One native callback for every save: JavaCPP has a few thunk slots per callback class. */
    private static final ArchiveWriter WRITER = new ArchiveWriter() {
        @Override
        public long call(Pointer data, long size) {
            byte[] b = new byte[Math.toIntExact(size)];
            new BytePointer(data).capacity(size).get(b);
            SINK.get().write(b, 0, b.length);
            return size;
        }
    };

    private OptimizerArchives() {
    }

    /** libtorch's archive of {@code opt}'s state, read back. */
    public static InputArchive save(Optimizer opt) {
        OutputArchive out = new OutputArchive();
        opt.save(out);
        return reopen(out);
    }

    /** Loads {@code archive} (written in libtorch's layout) into {@code opt}. */
    public static void load(Optimizer opt, OutputArchive archive) {
        opt.load(reopen(archive));
    }

    private static InputArchive reopen(OutputArchive out) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        SINK.set(bytes);
        try {
            out.save_to(WRITER);
        } finally {
            SINK.remove();
        }
        byte[] b = bytes.toByteArray();
        InputArchive in = new InputArchive();
        try (BytePointer p = new BytePointer(b)) {
            in.load_from(p, b.length);
        }
        return in;
    }

    public static InputArchive archive(InputArchive parent, String key) {
        InputArchive sub = new InputArchive();
        parent.read(key, sub);
        return sub;
    }

    public static Set<String> keys(InputArchive a) {
        Set<String> out = new HashSet<>();
        var k = a.keys();
        for (long i = 0; i < k.size(); i++) {
            out.add(k.get(i).getString());
        }
        return out;
    }

    public static IValue value(InputArchive a, String key) {
        IValue v = new IValue();
        a.read(key, v);
        return v;
    }

    /** A tensor entry, or {@code null} when the archive has none under {@code key}. */
    public static Tensor tensor(InputArchive a, String key) {
        Tensor t = new Tensor();
        return a.try_read(key, t) ? t : null;
    }

    /** The int64 0-d tensors libtorch stores its sizes in ({@code param_groups/size}). */
    public static long size(InputArchive a, String key) {
        try (Tensor t = new Tensor()) {
            a.read(key, t);
            return t.item_long();
        }
    }

    public static Tensor sizeTensor(long n) {
        try (Scalar s = new Scalar(n); TensorOptions o = new TensorOptions(ScalarType.Long)) {
            return torch.scalar_tensor(s, o);
        }
    }
}
