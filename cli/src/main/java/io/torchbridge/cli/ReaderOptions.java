package io.torchbridge.cli;

import io.torchbridge.reader.ReadOptions;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * How the commands that read a checkpoint may read it: {@code --allow-global} and {@code --inert},
 * one picocli mixin so that every such command spells and explains them the same way.
 */
final class ReaderOptions {
    @Option(names = "--allow-global", paramLabel = "MODULE.NAME",
            description = "Admit a global beyond PyTorch's weights_only allowlist, as inert data (never run).")
    List<String> allowGlobals = new ArrayList<>();

    @Option(names = "--inert", description = "Read full-model pickles (torch.save(model)) and other Python "
            + "objects as inert data: every class stays a name, nothing is constructed or run; tensors get "
            + "their attribute paths (fc1.weight).")
    boolean inert;

    /** {@return the reader options these flags ask for} */
    ReadOptions readOptions() {
        return of(allowGlobals, inert);
    }

    /** Reader options admitting each {@code MODULE.NAME} given with --allow-global. */
    static ReadOptions of(List<String> allowGlobals, boolean inert) {
        ReadOptions.Builder b = ReadOptions.builder().inert(inert);
        for (String g : allowGlobals) {
            int dot = g.lastIndexOf('.');
            if (dot <= 0) {
                throw new UsageError("--allow-global takes MODULE.NAME (a dotted name such as "
                        + "collections.OrderedDict), got '" + g + "'");
            }
            b.allowGlobal(g.substring(0, dot), g.substring(dot + 1));
        }
        return b.build();
    }
}
