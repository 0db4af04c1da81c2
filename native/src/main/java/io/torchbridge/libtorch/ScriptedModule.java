package io.torchbridge.libtorch;

import io.torchbridge.libtorch.internal.Devices;
import io.torchbridge.libtorch.internal.ScriptValues;
import io.torchbridge.reader.Checkpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Argument;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.FunctionSchema;
import org.bytedeco.pytorch.IValue;
import org.bytedeco.pytorch.IValueVector;
import org.bytedeco.pytorch.JitModule;
import org.bytedeco.pytorch.Method;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * A TorchScript archive ({@code torch.jit.save} of a scripted or traced module) run by libtorch:
 * Python's {@code torch.jit.load(path, map_location=device)}, its {@code forward}, and its
 * {@code load_state_dict} from any checkpoint the reader opens, so that new weights from training
 * run in an architecture exported once.
 *
 * <pre>{@code
 * try (ScriptedModule m = ScriptedModule.open(Path.of("model.pt"), "cpu");
 *      Checkpoint weights = Checkpoint.open(Path.of("weights.pt"))) {
 *     LoadReport r = m.load(weights, StateDictLoader.builder().stripPrefix("module.").build());
 *     Tensor y = m.forwardTensor(x);
 * }
 * }</pre>
 *
 * <p><b>Arguments</b> are converted by the types of {@code forward}'s signature, as the
 * interpreter checks them: a {@code Tensor} takes a libtorch {@link Tensor}, a {@link NativeTensor}
 * or a checkpoint {@link io.torchbridge.reader.Tensor} (copied to the module's device); {@code int}
 * a {@code Long} or {@code Integer}; {@code float} any {@code Number}; {@code bool} a
 * {@code Boolean}; {@code str} a {@code String}; {@code List[T]} a {@code java.util.List};
 * {@code Tuple[...]} a {@link io.torchbridge.reader.PyTuple} or a {@code List}; {@code Optional[T]}
 * also {@code null}. Trailing arguments with defaults may be left out. Results come back the
 * same way: a {@link Tensor} (a new handle the caller owns), {@code Long}, {@code Double},
 * {@code Boolean}, {@code String}, {@code null} for None, a {@code List}, a
 * {@link io.torchbridge.reader.PyTuple}, a {@code Map} for a dict.
 *
 * <p><b>Gradients.</b> {@code forward} runs in the calling thread's grad mode, as a Python call
 * does: for inference, hold a {@code NoGradGuard} around it (Python's {@code torch.no_grad()}), or
 * the results carry an autograd graph.
 *
 * <p><b>Ownership.</b> This object owns the libtorch module; {@link #close()} releases it, after
 * which every method throws {@link IllegalStateException}. Not thread-safe for {@link #load} while
 * another thread runs {@link #forward}.
 */
public final class ScriptedModule implements AutoCloseable {
    private final Path path;
    private final String device;
    private JitModule module;

    private ScriptedModule(Path path, String device, JitModule module) {
        this.path = path;
        this.device = device;
        this.module = module;
    }

    /**
     * Opens the archive on the CPU.
     *
     * @param path a TorchScript archive ({@code torch.jit.save})
     * @return the module; close it to release libtorch's copy
     */
    public static ScriptedModule open(Path path) {
        return open(path, "cpu");
    }

    /**
     * Opens the archive with every tensor on {@code device} ({@code "cpu"}, {@code "cuda:0"}),
     * as {@code torch.jit.load(path, map_location=device)}. The module keeps the training mode
     * it was saved in, as in Python ({@link #eval()} for inference).
     *
     * @throws IllegalArgumentException the file is missing or libtorch cannot load it (the
     *                                  message is libtorch's: not a TorchScript archive, an
     *                                  operator this libtorch lacks, a newer file format)
     * @param path   a TorchScript archive ({@code torch.jit.save})
     * @param device where every tensor goes: {@code "cpu"}, {@code "cuda"}, {@code "cuda:1"}
     * @return the module; close it to release libtorch's copy
     * @throws IllegalStateException    {@code device} is a CUDA device this machine lacks
     */
    @SuppressWarnings("try") // a scope guard, used for its lifetime alone
    public static ScriptedModule open(Path path, String device) {
        Objects.requireNonNull(path, "path");
        String target = Devices.normalize(device);
        Devices.checkAvailable(target);
        if (!Files.isRegularFile(path)) {
            throw new IllegalArgumentException("no TorchScript archive at " + path);
        }
        JitModule m;
        try (PointerScope scope = new PointerScope()) {
            m = torch.load(path.toString(), new DeviceOptional(Devices.device(target)), false);
            m.retainReference(); // outlives the scope, owned by this object
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("libtorch could not load " + path + " as TorchScript: "
                    + e.getMessage(), e);
        }
        return new ScriptedModule(path, target, m);
    }

    /** {@return the archive it was opened from} */
    public Path path() {
        return path;
    }

    /** {@return the device it was opened on ({@code cpu}, {@code cuda:0})} */
    public String device() {
        return device;
    }

    /**
     * Python's {@code module.eval()}: dropout off, BatchNorm on its running statistics.
     *
     * @return this module
     */
    public ScriptedModule eval() {
        jit().eval();
        return this;
    }

    /**
     * Python's {@code module.train(mode)}.
     *
     * @param mode true for training mode, false for evaluation mode
     * @return this module
     */
    public ScriptedModule train(boolean mode) {
        jit().train(mode);
        return this;
    }

    /** {@return whether the module is in training mode, Python's {@code module.training}} */
    public boolean isTraining() {
        return jit().is_training();
    }

    /**
     * {@return {@code forward}'s signature as TorchScript prints the types, {@code self} left out: for
     * example {@code [x: Tensor, ys: List[Tensor], k: int]}}
     */
    @SuppressWarnings("try") // a scope guard, used for its lifetime alone
    public List<String> signature() {
        List<String> out = new ArrayList<>();
        try (PointerScope scope = new PointerScope()) {
            Method f = jit().get_method("forward");
            FunctionSchema s = f.function().getSchema();
            Argument args = s.arguments();
            for (long i = 1; i < f.num_inputs(); i++) {
                Argument a = args.getPointer(i);
                out.add(a.name().getString() + ": " + a.type().get().annotation_str().getString());
            }
        }
        return out;
    }

    /**
     * Runs {@code forward} with {@code args} (converted as the class comment says) and returns its
     * result in Java terms.
     *
     * @param args the arguments after {@code self}, in the signature's order
     * @return the result, converted as the class comment says
     * @throws IllegalArgumentException an argument does not fit the signature, or the
     *                                  interpreter refused the call (libtorch's message)
     */
    @SuppressWarnings("try") // a scope guard, used for its lifetime alone
    public Object forward(Object... args) {
        JitModule m = jit();
        try (PointerScope scope = new PointerScope()) {
            Method f = m.get_method("forward");
            FunctionSchema s = f.function().getSchema();
            long declared = f.num_inputs() - 1; // without self
            if (args.length > declared) {
                throw new IllegalArgumentException("forward takes " + declared + " argument(s) " + signature()
                        + "; got " + args.length);
            }
            Argument params = s.arguments();
            IValueVector stack = new IValueVector();
            for (int i = 0; i < args.length; i++) {
                Argument a = params.getPointer(i + 1L);
                stack.push_back(ScriptValues.toIValue(args[i], a.type(), a.name().getString(), device));
            }
            IValue out;
            try {
                out = m.forward(stack);
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("forward failed: " + e.getMessage(), e);
            }
            return ScriptValues.fromIValue(out);
        }
    }

    /**
     * {@link #forward} for a module whose result is one tensor.
     *
     * @param args the arguments after {@code self}, in the signature's order
     * @return the result tensor
     * @throws IllegalStateException the result is not a tensor
     */
    public Tensor forwardTensor(Object... args) {
        Object out = forward(args);
        if (out instanceof Tensor t) {
            return t;
        }
        throw new IllegalStateException("forward returned " + (out == null ? "None" : out.getClass().getSimpleName())
                + ", not a tensor; use forward()");
    }

    /**
     * {@return {@code module.load_state_dict(state_dict)} from the checkpoint, with {@code loader}'s
     * strictness, key rules and entry: the same as {@link StateDictLoader#load(ScriptedModule, Checkpoint)}}
     *
     * @param ckpt   the open checkpoint
     * @param loader the strictness, key rules and entry to use
     * @throws StateDictException the state dict does not fit; the module is left as it was
     */
    public LoadReport load(Checkpoint ckpt, StateDictLoader loader) {
        return loader.load(this, ckpt);
    }

    /**
     * Strict {@link #load(Checkpoint, StateDictLoader)} of the checkpoint's root, keys as they are.
     *
     * @param ckpt the open checkpoint
     * @return what was loaded
     */
    public LoadReport load(Checkpoint ckpt) {
        return load(ckpt, StateDictLoader.strict());
    }

    /**
     * {@return the libtorch module, owned by this object: valid until {@link #close()}}
     *
     * @throws IllegalStateException once closed
     */
    public JitModule jit() {
        JitModule m = module;
        if (m == null) {
            throw new IllegalStateException("scripted module " + path + " is closed");
        }
        return m;
    }

    /** Releases the module; idempotent. Tensors it returned stay valid (libtorch counts references). */
    @Override
    public void close() {
        JitModule m = module;
        module = null;
        if (m != null) {
            m.releaseReference();
        }
    }

    @Override
    public String toString() {
        return "ScriptedModule[" + path + ", " + device + (module == null ? ", closed" : "") + "]";
    }
}
