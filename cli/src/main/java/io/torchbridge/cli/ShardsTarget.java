package io.torchbridge.cli;

import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.Tensor;
import io.torchbridge.writer.ShardedWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face sharded checkpoint: OUT is the folder (created if missing) or its index's name
 * ({@code model.safetensors.index.json}, {@code pytorch_model.bin.index.json}), written as
 * {@code huggingface_hub.save_torch_state_dict(state_dict, folder, max_shard_size=SIZE)} writes it
 * ({@link ShardedWriter}). {@code shards} writes safetensors shards (huggingface_hub's default,
 * {@code safe_serialization=True}); {@code shards-bin} writes {@code torch.save} shards
 * ({@code safe_serialization=False}). Chosen without {@code --to} when {@code --max-shard-size} is
 * given, OUT ends with {@code .index.json} or OUT is a folder holding a shard index; {@code .bin.index.json} means .bin.
 * The default size is huggingface_hub's, 5GB.
 */
final class ShardsTarget implements ConvertTarget {
    private final ShardedWriter.Kind kind;

    ShardsTarget(ShardedWriter.Kind kind) {
        this.kind = kind;
    }

    @Override
    public String name() {
        return kind == ShardedWriter.Kind.TORCH ? "shards-bin" : "shards";
    }

    @Override
    public boolean matches(Path out, ConvertCommand.Settings settings) {
        String name = String.valueOf(out.getFileName());
        if (kind == ShardedWriter.Kind.TORCH) {
            return name.endsWith(".bin.index.json");
        }
        return settings.maxShardSize() != null || name.endsWith(".index.json") || holdsIndex(out);
    }

    /** An existing folder with a shard index in it: an earlier save to be replaced (not any folder: DCP writes folders too). */
    private static boolean holdsIndex(Path out) {
        if (!Files.isDirectory(out)) {
            return false;
        }
        try (java.nio.file.DirectoryStream<Path> ds = Files.newDirectoryStream(out, "*.index.json")) {
            return ds.iterator().hasNext();
        } catch (IOException e) {
            return false;
        }
    }

    @Override
    public void write(Checkpoint in, Path out, ConvertCommand.Settings settings) throws IOException {
        long max = settings.maxShardSize() == null ? ShardedWriter.DEFAULT_MAX_SHARD_SIZE
                : ShardedWriter.parseSize(settings.maxShardSize());
        Path folder = out;
        String name = String.valueOf(out.getFileName());
        if (name.endsWith(".index.json")) {
            if (!name.equals(kind.indexName())) {
                throw new IllegalArgumentException("huggingface_hub names the index " + kind.indexName()
                        + ", not " + name + "; give the folder, or that name");
            }
            folder = out.toAbsolutePath().getParent();
        }
        Files.createDirectories(folder);
        ShardedWriter.Written w = ShardedWriter.save(stateDict(in, settings), folder, max, kind, Map.of(),
                settings.writeOptions());
        // huggingface_hub's rule, said plainly: a tied name is written once and recorded in the index's metadata
        w.removed().forEach((left, kept) -> System.err.println("convert: " + left + " shares " + kept
                + "'s memory: written once as " + kept + ", recorded in the metadata (huggingface_hub's rule)"));
    }

    /**
     * The checkpoint's tensors by name, when it is a state_dict (a dict of tensors, as a
     * sharded checkpoint is); other values are refused unless {@code --drop-values}, each one
     * left out named on stderr.
     */
    static Map<String, Tensor> stateDict(Checkpoint in, ConvertCommand.Settings settings) throws CheckpointException {
        Object root = in.stateDict().<Object>map(d -> d).orElse(in.root());
        Map<String, Tensor> out = new LinkedHashMap<>();
        List<String> dropped = new java.util.ArrayList<>();
        if (root instanceof io.torchbridge.reader.PyDict d) {
            for (Map.Entry<Object, Object> e : d.items().entrySet()) {
                if (e.getKey() instanceof String k && e.getValue() instanceof Tensor t) {
                    out.put(k, t);
                } else {
                    dropped.add(String.valueOf(e.getKey()));
                }
            }
        } else {
            throw CheckpointException.of(CheckpointException.Kind.UNSUPPORTED, "the checkpoint holds a "
                    + (root == null ? "None" : root.getClass().getSimpleName())
                    + ", not a state_dict (a dict of tensors), which is what shards hold");
        }
        if (!dropped.isEmpty() && !settings.dropValues()) {
            throw CheckpointException.of(CheckpointException.Kind.UNSUPPORTED, "shards hold only tensors by name, but "
                    + "the checkpoint also holds " + dropped + "; --drop-values leaves them out");
        }
        for (String k : dropped) {
            System.err.println("convert: left out " + k + " (not a tensor)");
        }
        return out;
    }
}
