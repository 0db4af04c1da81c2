package io.torchbridge.cli;

import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.CheckpointException;
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
                        + "torch.save(torch.jit.load(IN).state_dict(), OUT) would write it.",
                "An OUT named *.safetensors (or --to safetensors) is written as safetensors.torch.save_file writes "
                        + "it; views and shared memory need --materialize, non-tensor values --drop-values."})
final class ConvertCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IN")
    Path in;

    @Parameters(index = "1", paramLabel = "OUT")
    Path out;

    @Option(names = "--allow-global", paramLabel = "MODULE.NAME",
            description = "Admit a global beyond PyTorch's weights_only allowlist when reading, as inert data.")
    java.util.List<String> allowGlobals = new java.util.ArrayList<>();

    @Option(names = "--to", paramLabel = "KIND",
            description = "The output's kind, where OUT's name does not tell it: one of ${COMPLETION-CANDIDATES}.",
            completionCandidates = TargetNames.class)
    String to;

    @Option(names = "--max-shard-size", paramLabel = "SIZE",
            description = "Split the output into shards of at most SIZE (5GB, 500MB, bytes) with an index, "
                    + "as huggingface_hub's save_torch_state_dict does.")
    String maxShardSize;

    @Option(names = "--materialize", description = "Write views and tensors that share storage as separate, "
            + "contiguous copies where the output cannot share storage (safetensors).")
    boolean materialize;

    @Option(names = "--drop-values", description = "Leave out non-tensor values (epoch, optimizer settings) where "
            + "the output holds only tensors (safetensors); each one left out is listed on stderr.")
    boolean dropValues;

    /** What every target gets from the command line. */
    record Settings(WriteOptions writeOptions, String maxShardSize, boolean materialize, boolean dropValues) {
    }

    /** The outputs convert writes; the first whose {@link ConvertTarget#matches} claims OUT wins (torch.save, which claims every name, last). */
    static final java.util.List<ConvertTarget> TARGETS = java.util.List.of(
            new ShardsTarget(io.torchbridge.writer.ShardedWriter.Kind.TORCH),
            new ShardsTarget(io.torchbridge.writer.ShardedWriter.Kind.SAFETENSORS),
            new SafetensorsTarget(),
            new DcpTarget(),
            new TorchSaveTarget());

    /** The names {@code --to} takes. */
    static final class TargetNames implements Iterable<String> {
        @Override
        public java.util.Iterator<String> iterator() {
            return TARGETS.stream().map(ConvertTarget::name).iterator();
        }
    }

    @Override
    public Integer call() {
        try (Checkpoint ckpt = Checkpoint.open(in, ReaderOptions.of(allowGlobals, false));
             ConvertProgress progress = ConvertProgress.onTerminal(java.nio.file.Files.size(in))) {
            WriteOptions options = WriteOptions.defaults().withProgress(progress);
            Settings settings = new Settings(options, maxShardSize, materialize, dropValues);
            ConvertTarget target = target(settings);
            if (target == null) {
                System.err.println("torchbridge: --to " + to + ": not a kind convert writes; one of "
                        + String.join(", ", new TargetNames()));
                return 2;
            }
            target.write(ckpt, out, settings);
            return 0;
        } catch (CheckpointException e) {
            System.err.println("torchbridge: " + in + ": " + e.kind() + ": " + e.getMessage());
            return 1;
        } catch (IOException | IllegalArgumentException e) {
            System.err.println("torchbridge: cannot write " + out + ": "
                    + (e instanceof IOException io ? Conventions.describe(io) : e.getMessage()));
            return 1;
        }
    }

    private ConvertTarget target(Settings settings) {
        for (ConvertTarget t : TARGETS) {
            if (to != null ? t.name().equals(to) : t.matches(out, settings)) {
                return t;
            }
        }
        return null;
    }
}
