package common;

import io.torchbridge.libtorch.LoadReport;
import io.torchbridge.libtorch.StateDictLoader;
import io.torchbridge.reader.Checkpoint;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.global.torch;

/** Loading Python's {@code state_dict} into a Java module, the way every example does it. */
public final class Weights {
    private static final String ZERO_COPY = "--zero-copy";

    private Weights() {
    }

    /**
     * The loader's settings from a program's arguments: {@code --zero-copy} makes the module's
     * CPU tensors copy-on-write views of the weight file instead of copies (Python's
     * {@code torch.load(mmap=True)} with {@code assign=True}); without it every value is copied.
     */
    public static StateDictLoader.Builder loader(String[] args) {
        return StateDictLoader.builder().zeroCopy(List.of(args).contains(ZERO_COPY));
    }

    /**
     * The weight files to load, by suffix after the model's name, from a program's arguments
     * after the folder: {@code .pt} (torch.save), {@code .safetensors}, {@code -shards} (Hugging
     * Face shards and their index); {@code .pt} alone when none is given. {@code --device D} and
     * {@code --zero-copy} are not suffixes (see {@link #device}, {@link #loader}).
     */
    public static List<String> suffixes(String[] args) {
        List<String> s = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            if (args[i].equals("--device")) {
                i++;
            } else if (!args[i].equals(ZERO_COPY)) {
                s.add(args[i]);
            }
        }
        return s.isEmpty() ? List.of(".pt") : s;
    }

    /**
     * The device to run on, from {@code --device D} among a program's arguments ({@code cpu},
     * {@code cuda}, {@code cuda:0}); {@code cpu} when none is given. Prints it. On CUDA, TF32 is
     * switched off: Python's reference outputs are computed on the CPU in full float32, and TF32
     * matrix products and convolutions (cuDNN's default in libtorch) differ from them by about
     * 1e-3, ten times the examples' bound.
     */
    public static String device(PrintStream out, String[] args) {
        String device = "cpu";
        for (int i = 1; i < args.length; i++) {
            if (args[i].equals("--device")) {
                if (i + 1 == args.length) {
                    throw new IllegalArgumentException("--device needs a value: cpu, cuda, cuda:0");
                }
                device = args[i + 1];
            }
        }
        if (device.startsWith("cuda")) {
            torch.globalContext().setAllowTF32CuDNN(false);
            torch.globalContext().setAllowTF32CuBLAS(false);
        }
        out.println("device: " + device + (device.startsWith("cuda") ? " (TF32 off)" : ""));
        return device;
    }

    /**
     * {@code model.load_state_dict(torch.load(file))} with {@code loader}'s settings (strict by
     * default; the module may be on any device: the weights are copied to where its parameters
     * and buffers are). Prints what was loaded, and how many entries became views of the file.
     */
    public static LoadReport load(PrintStream out, Module model, Path file, StateDictLoader loader) throws IOException {
        try (Checkpoint ckpt = Checkpoint.open(file)) {
            long t0 = System.nanoTime();
            LoadReport r = loader.load(model, ckpt);
            out.printf("loaded %s: %d entries%s into %s in %d ms%s%s%n", file.getFileName(), r.loadedKeys().size(),
                    r.mappedKeys().isEmpty() ? "" : " (" + r.mappedKeys().size() + " as views of the file)",
                    r.module(), (System.nanoTime() - t0) / 1_000_000,
                    r.missingKeys().isEmpty() ? "" : ", missing " + r.missingKeys(),
                    r.unexpectedKeys().isEmpty() ? "" : ", unexpected " + r.unexpectedKeys());
            return r;
        }
    }
}
