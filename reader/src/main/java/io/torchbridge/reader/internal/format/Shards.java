package io.torchbridge.reader.internal.format;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.reader.Format;
import io.torchbridge.reader.PyDict;
import io.torchbridge.reader.ReadOptions;
import io.torchbridge.reader.internal.Checked;
import io.torchbridge.reader.internal.data.MappedFile;
import io.torchbridge.reader.internal.pickle.RawDict;
import io.torchbridge.reader.internal.pickle.TensorSpec;
import io.torchbridge.reader.internal.zip.ZipContainer;
import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A Hugging Face sharded checkpoint read as one: the shards an index names, each a checkpoint of
 * its own (a {@code torch.save} of a dict of tensors, or a safetensors file), merged into one
 * dict of every tensor. The shards' own metadata (a safetensors shard's {@code {"format": "pt"}})
 * is not kept; {@link Unpickled#metadata()} is the index's.
 *
 * <p><b>Order.</b> Shards in the sorted order of their names ({@link ShardIndex#shards()}, as
 * transformers loads them), each shard's tensors in the shard's own order. For shards written by
 * {@code huggingface_hub} this is the order of the {@code weight_map} and of the saved state_dict.
 *
 * <p><b>Laziness.</b> Opening reads each shard's header (a zip index and pickle, or a safetensors
 * header: what names, dtypes and shapes need); tensor data are mapped on first use, as for a
 * single file.
 *
 * <p><b>Checks against the index.</b> Every tensor the index names must be in the shard it names;
 * a name may be in one shard only. {@code metadata.total_size} is shown, not checked: writers count it
 * differently and transformers never compares it. A
 * tensor that a shard holds but the index does not list is kept, in its shard's place:
 * transformers and {@code huggingface_hub} load whole shard files, so it is what they load too.
 */
public final class Shards implements CheckpointFormat {
    private final ShardIndex index;
    private final List<Shard> shards;

    /** One shard file: a torch.save zip (with its index) or a safetensors file ({@code zip} null). */
    private record Shard(String name, MappedFile file, ZipContainer zip) {
        CheckpointFormat format() {
            // each shard numbers its storages from 0: keys made unique by the shard's name
            return zip == null ? new Safetensors(file, name + "/") : new TorchZip(file, zip, name + "/");
        }
    }

    private Shards(ShardIndex index, List<Shard> shards) {
        this.index = index;
        this.shards = shards;
    }

    /**
     * Opens every shard of {@code index}, adding each file and its zip index to {@code owned}
     * as it opens them (the caller closes them, on failure too).
     */
    public static Shards open(ShardIndex index, List<AutoCloseable> owned) throws IOException {
        List<Shard> shards = new ArrayList<>(index.shards().size());
        for (String name : index.shards()) {
            Path p = index.resolve(name);
            if (!Files.isRegularFile(p)) { // safety: shard-present
                throw CheckpointException.at(Kind.IO, name, -1, "the index names this shard for "
                        + count(index, name) + " but there is no such file beside it (" + p + ")")
                        .forTensor(firstTensor(index, name));
            }
            MappedFile file;
            try {
                file = MappedFile.open(p);
            } catch (IOException e) {
                throw CheckpointException.at(Kind.IO, name, -1, "cannot open this shard: " + e).withCause(e);
            }
            owned.add(file);
            FileKind.Diagnosis kind = FileKind.sniff(file);
            if (kind.kind() == FileKind.SAFETENSORS) {
                shards.add(new Shard(name, file, null));
                continue;
            }
            if (kind.kind() != FileKind.ZIP) {
                throw CheckpointException.at(kind.refusal().kind(), name, -1, "this shard is not read: "
                        + kind.message());
            }
            ZipContainer zip = ZipContainer.open(file);
            owned.add(zip);
            shards.add(new Shard(name, file, zip));
        }
        return new Shards(index, shards);
    }

    /** The shard names, in the order read. */
    public List<String> names() {
        return index.shards();
    }

    @Override
    public Unpickled unpickle(ReadOptions options, boolean allowTrailing) throws CheckpointException {
        RawDict all = new RawDict(PyDict.DICT);
        Map<String, String> shardOf = new HashMap<>();
        CheckpointException unreadable = null;
        int version = 0;
        ByteOrder order = ByteOrder.LITTLE_ENDIAN;
        for (Shard s : shards) {
            Unpickled u;
            try {
                u = s.format().unpickle(options, allowTrailing);
            } catch (CheckpointException e) {
                CheckpointException inShard = CheckpointException.at(e.kind(), s.name, -1, "in this shard: "
                        + e.getMessage()).withCause(e);
                throw e.tensorName().isPresent() ? inShard.forTensor(e.tensorName().get()) : inShard;
            }
            if (s == shards.get(0)) {
                version = u.version();
                order = u.byteOrder();
            }
            if (unreadable == null) {
                unreadable = u.unreadableTensor();
            }
            Object root = u.takeRoot();
            RawDict dict = root instanceof RawDict d ? d : null;
            if (dict == null) { // safety: shard-is-dict
                throw CheckpointException.at(Kind.MALFORMED, s.name, -1, "this shard holds a "
                        + (root == null ? "None" : root.getClass().getSimpleName())
                        + ", not the dict of tensors a shard is");
            }
            for (Map.Entry<Object, Object> e : dict.items.entrySet()) {
                String name = e.getKey() instanceof String k ? k : String.valueOf(e.getKey());
                if (!(e.getKey() instanceof String) || !(e.getValue() instanceof TensorSpec)) { // safety: shard-holds-tensors
                    throw CheckpointException.at(Kind.MALFORMED, s.name, -1, "this shard holds a value "
                            + "that is not a tensor under a name; a shard is a dict of tensors").forTensor(name);
                }
                String before = shardOf.putIfAbsent(name, s.name);
                if (before != null) { // safety: shard-name-once
                    throw CheckpointException.at(Kind.MALFORMED, s.name, -1, "both " + before + " and this shard "
                            + "hold the tensor; which one is meant is not clear").forTensor(name);
                }
                String listed = index.weightMap().get(name);
                if (listed != null && !listed.equals(s.name)) { // safety: shard-index-agrees
                    throw CheckpointException.at(Kind.MALFORMED, s.name, -1, "this shard holds the tensor but "
                            + "the index puts it in " + listed).forTensor(name);
                }
                all.items.put(name, e.getValue());
            }
        }
        for (Map.Entry<String, String> e : index.weightMap().entrySet()) {
            if (!shardOf.containsKey(e.getKey())) { // safety: shard-tensor-present
                throw CheckpointException.at(Kind.MALFORMED, e.getValue(), -1, "the index puts the tensor in "
                        + "this shard, which does not hold it").forTensor(e.getKey());
            }
        }
        return new Unpickled(Format.SHARDED, all, version, order, unreadable).withMetadata(index.metadata());
    }

    private static String count(ShardIndex index, String shard) {
        int n = 0;
        for (String s : index.weightMap().values()) {
            n += s.equals(shard) ? 1 : 0;
        }
        return n == 1 ? "1 tensor" : n + " tensors";
    }

    private static String firstTensor(ShardIndex index, String shard) {
        for (Map.Entry<String, String> e : index.weightMap().entrySet()) {
            if (e.getValue().equals(shard)) {
                return e.getKey();
            }
        }
        return null;
    }
}
