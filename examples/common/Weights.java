package common;

import io.torchbridge.libtorch.LoadReport;
import io.torchbridge.libtorch.StateDictLoader;
import io.torchbridge.reader.Checkpoint;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import org.bytedeco.pytorch.Module;

/** Loading Python's {@code state_dict} into a Java module, the way every example does it. */
public final class Weights {
    private Weights() {
    }

    /**
     * The weight files to load, by suffix after the model's name, from a program's arguments
     * after the folder: {@code .pt} (torch.save), {@code .safetensors}, {@code -shards} (Hugging
     * Face shards and their index); {@code .pt} alone when none is given.
     */
    public static List<String> suffixes(String[] args) {
        return args.length > 1 ? List.of(args).subList(1, args.length) : List.of(".pt");
    }

    /**
     * {@code model.load_state_dict(torch.load(file))}, strict: every key of the module is in the
     * file and every key of the file is in the module, shapes equal. Prints what was loaded.
     */
    public static LoadReport loadStrict(PrintStream out, Module model, Path file) throws IOException {
        return load(out, model, file, StateDictLoader.strict());
    }

    /** The same with a loader of the caller's (non-strict, key rules). */
    public static LoadReport load(PrintStream out, Module model, Path file, StateDictLoader loader) throws IOException {
        try (Checkpoint ckpt = Checkpoint.open(file)) {
            long t0 = System.nanoTime();
            LoadReport r = loader.load(model, ckpt);
            out.printf("loaded %s: %d entries into %s in %d ms%s%s%n", file.getFileName(), r.loadedKeys().size(),
                    r.module(), (System.nanoTime() - t0) / 1_000_000,
                    r.missingKeys().isEmpty() ? "" : ", missing " + r.missingKeys(),
                    r.unexpectedKeys().isEmpty() ? "" : ", unexpected " + r.unexpectedKeys());
            return r;
        }
    }
}
