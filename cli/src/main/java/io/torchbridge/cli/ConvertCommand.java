package io.torchbridge.cli;

import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.CheckpointException;
import io.torchbridge.writer.CheckpointWriter;
import io.torchbridge.writer.WriteOptions;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code torchbridge convert IN OUT}: re-writes a checkpoint through the reader and the writer. */
@Command(name = "convert", mixinStandardHelpOptions = true,
        description = {"Re-writes a checkpoint in torch.save's current layout (torch 2.7+), keeping everything: "
                + "order, types, storage sharing, views, _metadata and non-tensor values.",
                "A protocol-2 file written by torch 2.14 comes out byte-identical when the file names match "
                        + "(the digits of .data/serialization_id aside).",
                "A TorchScript archive (torch.jit.save) becomes its state_dict, as "
                        + "torch.save(torch.jit.load(IN).state_dict(), OUT) would write it."})
final class ConvertCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IN")
    Path in;

    @Parameters(index = "1", paramLabel = "OUT")
    Path out;

    @Option(names = "--allow-global", paramLabel = "MODULE.NAME",
            description = "Admit a global beyond PyTorch's weights_only allowlist when reading, as inert data.")
    java.util.List<String> allowGlobals = new java.util.ArrayList<>();

    @Override
    public Integer call() {
        try (Checkpoint ckpt = Checkpoint.open(in, InspectCommand.options(allowGlobals, false))) {
            long total = java.nio.file.Files.size(in);
            WriteOptions options = WriteOptions.defaults();
            if (total >= 64L << 20) {
                Progress p = new Progress(total);
                options = options.withProgress(p::report);
            }
            // a TorchScript archive becomes its state_dict, as torch.save(torch.jit.load(IN).state_dict(), OUT)
            Object saved = ckpt.stateDict().<Object>map(d -> d).orElse(ckpt.root());
            CheckpointWriter.save(saved, out, options);
            if (total >= 64L << 20) {
                System.err.println();
            }
            return 0;
        } catch (CheckpointException e) {
            System.err.println("torchbridge: " + in + ": " + e.kind() + ": " + e.getMessage());
            return 1;
        } catch (IOException | IllegalArgumentException e) {
            System.err.println("torchbridge: cannot write " + out + ": " + e.getMessage());
            return 1;
        }
    }

    /** A one-line progress report on stderr, redrawn at most every percent. */
    private static final class Progress {
        private final long total;
        private int lastPercent = -1;

        Progress(long total) {
            this.total = total;
        }

        void report(long written) {
            int pct = (int) Math.min(100, written * 100 / Math.max(1, total));
            if (pct != lastPercent) {
                lastPercent = pct;
                System.err.printf("\rconvert: %3d%% (%s of ~%s)", pct, InspectCommand.bytes(written),
                        InspectCommand.bytes(total));
            }
        }
    }
}
