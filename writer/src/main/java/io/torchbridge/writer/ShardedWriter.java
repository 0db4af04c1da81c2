package io.torchbridge.writer;

import io.torchbridge.reader.PyDict;
import io.torchbridge.reader.StorageInfo;
import io.torchbridge.reader.Tensor;
import io.torchbridge.reader.TensorLayout;
import io.torchbridge.writer.internal.JsonText;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;

/**
 * Writes a state_dict as a Hugging Face sharded checkpoint: the file names, the split of tensors
 * into shards and the index json that {@code huggingface_hub.save_torch_state_dict} (1.23) writes
 * for the same state_dict and {@code max_shard_size}.
 *
 * <pre>{@code
 * ShardedWriter.save(stateDict, Path.of("out"), ShardedWriter.parseSize("5GB"), ShardedWriter.Kind.TORCH);
 * }</pre>
 *
 * <p><b>The split</b> ({@code huggingface_hub/serialization/_base.py},
 * {@code split_state_dict_into_shards_factory}): tensors in the state_dict's order fill a shard
 * until the next would take it over the maximum; a tensor larger than the maximum gets a shard of
 * its own, listed before the shard being filled; a tensor that shares its storage with an earlier
 * one joins that one's shard (appended to it) and is not counted again. A tensor's size is its
 * whole storage's ({@code get_torch_storage_size}), and storages of no bytes all count as one
 * (torch gives them all the data pointer 0). Shards are named
 * {@code pytorch_model-00001-of-00003.bin} or {@code model-00001-of-00003.safetensors}; a single
 * shard is {@code pytorch_model.bin} or {@code model.safetensors}, with no index.
 *
 * <p><b>The index</b> {@code pytorch_model.bin.index.json} / {@code model.safetensors.index.json}:
 * {@code {"metadata": {"total_size": N, ...metadata}, "weight_map": {name: shard, ...}}} as
 * Python's {@code json.dump(index, f, indent=2)} writes it (ASCII only, other characters as JSON u-escapes,
 * no newline at the end); the weight_map lists shard by shard, each in its own order.
 *
 * <p><b>.bin shards</b> ({@link Kind#TORCH}) are {@code torch.save} of a plain dict of the shard's
 * tensors, written by {@link CheckpointWriter}; tensors that share a storage stay shared.
 * <b>safetensors shards</b> ({@link Kind#SAFETENSORS}) are {@code save_file} of the shard's
 * tensors with {@code {"format": "pt"}} ({@link SafetensorsWriter}), after huggingface_hub's
 * {@code _clean_state_dict_for_safetensors}: of tensors sharing memory one is kept and the others
 * are recorded in the metadata ({@link #removeDuplicateNames}); views are written contiguous.
 *
 * <p><b>Crash safety.</b> Every file is first written under a temporary name in the folder (each
 * atomically, see {@link CheckpointWriter}); only when all are written are they renamed into place,
 * the index last, and then the files of an earlier save that the new one does not replace are
 * removed (the names {@code huggingface_hub} removes: the pattern with or without a
 * {@code -0000k-of-0000N} part, and its index; only whole-name matches, where huggingface_hub's
 * prefix match would also take, say, {@code model.safetensors.bak}). A failure while writing leaves
 * the folder as it was; a crash during the renames (no data is written then) can leave new shards
 * beside the old index, which a rerun replaces. huggingface_hub instead removes the old files first.
 */
public final class ShardedWriter {
    /** Which files the shards are, as {@code save_torch_state_dict}'s {@code safe_serialization} chooses. */
    public enum Kind {
        /** {@code safe_serialization=False}: {@code torch.save} per shard. */
        TORCH("pytorch_model", ".bin"),
        /** {@code safe_serialization=True}: {@code safetensors.torch.save_file} per shard. */
        SAFETENSORS("model", ".safetensors");

        private final String stem;
        private final String extension;

        Kind(String stem, String extension) {
            this.stem = stem;
            this.extension = extension;
        }

        /** {@code huggingface_hub/constants.py}: {@code PYTORCH_WEIGHTS_FILE_PATTERN}, {@code SAFETENSORS_WEIGHTS_FILE_PATTERN}. */
        String fileName(String suffix) {
            return stem + suffix + extension;
        }

        /** {@return the index's name: the unsuffixed file name and {@code .index.json}} */
        public String indexName() {
            return fileName("") + ".index.json";
        }
    }

    /**
     * What a save wrote: the shard files in order, the index (null for a single file), and for
     * safetensors shards the names left out as duplicates of a tensor sharing their storage,
     * each with the name kept (also in the metadata, as huggingface_hub records them).
     *
     * @param shards  the shard files, in order (one file when nothing was split)
     * @param index   the {@code .index.json} written, or null for a single file
     * @param removed safetensors names left out as duplicates, each to the name kept; empty otherwise
     */
    public record Written(List<Path> shards, Path index, Map<String, String> removed) {
        /**
         * Copies the lists into unmodifiable ones.
         *
         * @param shards  the shard files, in order
         * @param index   the index file, or null
         * @param removed names left out, each to the name kept
         */
        public Written {
            shards = List.copyOf(shards);
            removed = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(removed));
        }
    }

    /** {@code huggingface_hub}'s default {@code max_shard_size}, "5GB". */
    public static final long DEFAULT_MAX_SHARD_SIZE = 5_000_000_000L;

    private ShardedWriter() {
    }

    /**
     * {@return a size as {@code huggingface_hub/serialization/_base.py}, {@code parse_size_to_int} reads
     * it: a number (a fraction allowed) and one of the decimal units TB, GB, MB, KB (any case;
     * GB is 10^9 bytes), {@code int(value * unit)}} Plain digits are bytes (the Python API takes
     * an int as is).
     *
     * @param text a size such as {@code 5GB}, {@code 500MB}, {@code 1.5GB} or {@code 1000000}
     * @throws IllegalArgumentException not such a size
     */
    public static long parseSize(String text) {
        String s = text.strip();
        if (!s.isEmpty() && s.chars().allMatch(c -> c >= '0' && c <= '9')) {
            try {
                return Long.parseLong(s);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("size " + text + " is too large", e);
            }
        }
        String unit = s.length() < 2 ? s : s.substring(s.length() - 2).toUpperCase(Locale.ROOT);
        long multiplier = switch (unit) {
            case "TB" -> 1_000_000_000_000L;
            case "GB" -> 1_000_000_000L;
            case "MB" -> 1_000_000L;
            case "KB" -> 1_000L;
            default -> throw new IllegalArgumentException("Unit '" + unit + "' not supported. Supported units are "
                    + "TB, GB, MB, KB (decimal: 1GB = 10^9 bytes), or give plain bytes. Got '" + text + "'.");
        };
        String number = s.substring(0, s.length() - 2).strip();
        double value;
        try {
            // Python's float(): digits, a point, an exponent; no hex, no trailing 'd'/'f' as Java allows
            if (!number.matches("[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?")) {
                throw new NumberFormatException(number);
            }
            value = Double.parseDouble(number);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("Could not parse the size value from '" + text + "'", e);
        }
        double bytes = value * multiplier;
        if (!(bytes >= 0) || bytes >= 0x1p63) {
            throw new IllegalArgumentException("size " + text + " is not a byte count");
        }
        return (long) bytes; // int() truncates toward zero, as the cast does
    }

    /**
     * {@link #save(Map, Path, long, Kind, Map, WriteOptions)} with no metadata and the default options.
     *
     * @param stateDict    tensor name to {@link NewTensor} or a reader {@link Tensor}, in order
     * @param folder       an existing folder
     * @param maxShardSize the most bytes of tensors per shard
     * @param kind         torch.save or safetensors shards
     * @return the files written
     * @throws IOException a file cannot be written
     */
    public static Written save(Map<String, ?> stateDict, Path folder, long maxShardSize, Kind kind) throws IOException {
        return save(stateDict, folder, maxShardSize, kind, Map.of(), WriteOptions.defaults());
    }

    /**
     * Does {@code save_torch_state_dict(state_dict, folder, max_shard_size=maxShardSize,
     * safe_serialization=kind == SAFETENSORS, metadata=metadata)}.
     *
     * @param stateDict    tensor name to {@link NewTensor} or a reader {@link Tensor}, in order
     * @param folder       an existing folder
     * @param maxShardSize the most bytes of tensors per shard (a larger tensor gets a shard of its own)
     * @param metadata     added to the index's metadata after {@code total_size} (and to a single
     *                     safetensors file's metadata)
     * @param kind         torch.save or safetensors shards
     * @param options      how each file is written
     * @return the files written
     * @throws IllegalArgumentException a value is not a tensor, a tensor is not a dense one, or the
     *                                  state_dict is empty (huggingface_hub then writes nothing)
     * @throws IOException              {@code folder} is not a folder, or a file cannot be written
     */
    public static Written save(Map<String, ?> stateDict, Path folder, long maxShardSize, Kind kind,
                               Map<String, String> metadata, WriteOptions options) throws IOException {
        Objects.requireNonNull(kind, "kind");
        if (!Files.isDirectory(folder)) {
            throw new IOException(folder + " is not a folder; save_torch_state_dict writes into an existing one");
        }
        if (maxShardSize < 0) {
            throw new IllegalArgumentException("max shard size " + maxShardSize + " is negative");
        }
        Map<String, Object> sd = new LinkedHashMap<>();
        for (Map.Entry<String, ?> e : stateDict.entrySet()) {
            sd.put(e.getKey(), checkTensor(e.getKey(), e.getValue()));
        }
        Map<String, String> meta = new LinkedHashMap<>(metadata);
        Map<String, String> removed = kind == Kind.SAFETENSORS ? removeDuplicateNames(sd, meta) : Map.of();
        if (sd.isEmpty()) {
            throw new IllegalArgumentException("the state_dict has no tensors; huggingface_hub writes no file for it");
        }
        Split split = split(sd, maxShardSize, kind);

        // Write every file under a temporary name first: a failure leaves the folder as it was.
        List<Path> staged = new ArrayList<>();
        List<Path> finals = new ArrayList<>();
        boolean committed = false;
        try {
            for (Map.Entry<String, List<String>> shard : split.files.entrySet()) {
                Map<Object, Object> tensors = new LinkedHashMap<>();
                for (String name : shard.getValue()) {
                    tensors.put(name, sd.get(name));
                }
                Path target = folder.resolve(shard.getKey());
                Path tmp = stagingName(folder, shard.getKey());
                staged.add(tmp);
                if (kind == Kind.TORCH) {
                    // torch.save of the shard's dict ({tensor: state_dict[tensor] for tensor in tensors});
                    // the archive folder is named after the final file, as torch names it
                    CheckpointWriter.save(new PyDict(PyDict.DICT, tensors, Map.of()), tmp,
                            options.withArchiveName(CheckpointWriter.archiveName(target)));
                } else {
                    // save_file(shard, path, metadata={"format": "pt"} (+ metadata when not sharded));
                    // force_contiguous=True: a complete view is written as its contiguous copy
                    Map<String, String> fileMeta = new LinkedHashMap<>();
                    fileMeta.put("format", "pt");
                    if (split.files.size() == 1) {
                        fileMeta.putAll(meta);
                    }
                    Map<String, Object> named = new LinkedHashMap<>();
                    tensors.forEach((k, v) -> named.put((String) k, v));
                    SafetensorsWriter.save(named, fileMeta, tmp, options, true);
                }
                finals.add(target);
            }
            Path index = null;
            if (split.files.size() > 1) {
                index = folder.resolve(kind.indexName());
                Path tmp = stagingName(folder, kind.indexName());
                staged.add(tmp);
                Map<String, Object> md = new LinkedHashMap<>();
                md.put("total_size", split.totalSize);
                md.putAll(meta); // {**state_dict_split.metadata, **metadata}: a user total_size replaces it in place
                Files.write(tmp, indexJson(md, split.weightMap).getBytes(StandardCharsets.US_ASCII));
                if (options.fsync()) {
                    try (var ch = java.nio.channels.FileChannel.open(tmp, java.nio.file.StandardOpenOption.WRITE)) {
                        ch.force(true);
                    }
                }
                finals.add(index);
            }
            // Commit: renames only, the index last.
            for (int i = 0; i < finals.size(); i++) {
                Files.move(staged.get(i), finals.get(i), StandardCopyOption.ATOMIC_MOVE,
                        StandardCopyOption.REPLACE_EXISTING);
            }
            committed = true;
            removeStale(folder, kind, finals);
            return new Written(index == null ? finals : finals.subList(0, finals.size() - 1), index, removed);
        } finally {
            if (!committed) {
                for (Path p : staged) {
                    try {
                        Files.deleteIfExists(p);
                    } catch (IOException ignored) {
                        // best effort: the save's own exception is what the caller needs
                    }
                }
            }
        }
    }

    /**
     * {@code _clean_state_dict_for_safetensors} ({@code huggingface_hub/serialization/_torch.py}):
     * of tensors whose bytes overlap in one storage ({@code _find_shared_tensors},
     * {@code _filter_shared_not_shared}) one is kept, the first by name of those that cover their
     * whole storage ({@code _is_complete}); the others leave the state_dict and go into the
     * metadata as {@code removed: kept} (where the caller's metadata has no such key). A group
     * with no complete tensor, such as a lone slice of a larger storage, is refused, as there.
     */
    static Map<String, String> removeDuplicateNames(Map<String, Object> sd, Map<String, String> metadata) {
        // groups by storage, in the order each storage is first met; storages of no bytes are never shared
        Map<Object, List<String>> groups = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : sd.entrySet()) {
            if (storageBytes(e.getValue()) != 0) {
                groups.computeIfAbsent(new Identity(storage(e.getValue())), k -> new ArrayList<>()).add(e.getKey());
            }
        }
        Map<String, List<String>> toRemove = new LinkedHashMap<>();
        for (List<String> group : groups.values()) {
            for (List<String> run : overlapping(sd, group)) {
                List<String> complete = new ArrayList<>();
                for (String n : run) {
                    if (isComplete(sd.get(n))) {
                        complete.add(n);
                    }
                }
                if (complete.isEmpty()) {
                    throw new IllegalArgumentException("none of " + run + " covers its whole storage, so "
                            + "huggingface_hub refuses to save them as safetensors (it would store more memory than "
                            + "needed); save a copy (contiguous tensors of their own) or write .bin shards");
                }
                complete.sort(null);
                String keep = complete.get(0);
                List<String> sorted = new ArrayList<>(run);
                sorted.sort(null);
                for (String n : sorted) {
                    if (!n.equals(keep)) {
                        toRemove.computeIfAbsent(keep, k -> new ArrayList<>()).add(n);
                    }
                }
            }
        }
        Map<String, String> removed = new LinkedHashMap<>();
        toRemove.forEach((kept, names) -> {
            for (String r : names) {
                metadata.putIfAbsent(r, kept);
                sd.remove(r);
                removed.put(r, kept);
            }
        });
        return removed;
    }

    /**
     * {@code _filter_shared_not_shared}: a storage's tensors as runs whose byte ranges overlap,
     * sorted by (start, end, name); a group of one is one run.
     */
    private static List<List<String>> overlapping(Map<String, Object> sd, List<String> group) {
        if (group.size() < 2) {
            return List.of(group);
        }
        record Area(long start, long stop, String name) {
        }
        List<Area> areas = new ArrayList<>();
        for (String n : group) {
            long[] r = byteRange(sd.get(n));
            areas.add(new Area(r[0], r[1], n));
        }
        areas.sort(java.util.Comparator.comparingLong(Area::start).thenComparingLong(Area::stop)
                .thenComparing(Area::name));
        List<List<String>> runs = new ArrayList<>();
        long lastStop = areas.get(0).stop;
        runs.add(new ArrayList<>(List.of(areas.get(0).name)));
        for (Area a : areas.subList(1, areas.size())) {
            if (a.start >= lastStop) {
                runs.add(new ArrayList<>(List.of(a.name)));
            } else {
                runs.get(runs.size() - 1).add(a.name);
            }
            lastStop = a.stop;
        }
        return runs;
    }

    /**
     * {@code (data_ptr, _end_ptr)} relative to the storage: the first element's byte and the byte
     * after the last element in flattened order ({@code view(-1)[-1]}); an empty tensor ends where it starts.
     */
    private static long[] byteRange(Object tensor) {
        long[] shape = shape(tensor);
        long[] stride = stride(tensor);
        long item = itemSize(tensor);
        long start = Math.multiplyExact(offset(tensor), item);
        long last = offset(tensor);
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            numel = Math.multiplyExact(numel, shape[i]);
            if (shape[i] > 0) {
                last = Math.addExact(last, Math.multiplyExact(shape[i] - 1, stride[i]));
            }
        }
        return new long[] {start, numel == 0 ? start : Math.addExact(Math.multiplyExact(last, item), item)};
    }

    /** {@code _is_complete}: starts at the storage's start and has as many bytes as the storage. */
    private static boolean isComplete(Object tensor) {
        long numel = 1;
        for (long d : shape(tensor)) {
            numel = Math.multiplyExact(numel, d);
        }
        return offset(tensor) == 0 && Math.multiplyExact(numel, itemSize(tensor)) == storageBytes(tensor);
    }

    private static Object storage(Object t) {
        return t instanceof NewTensor n ? n.toView().storage() : ((Tensor) t).info().storage();
    }

    private static long[] shape(Object t) {
        return t instanceof NewTensor n ? n.shape().toArray() : ((Tensor) t).shape().toArray();
    }

    private static long[] stride(Object t) {
        return t instanceof NewTensor n ? n.stride().toArray() : ((Tensor) t).info().stride().toArray();
    }

    private static long offset(Object t) {
        return t instanceof NewTensor n ? n.storageOffset() : ((Tensor) t).info().storageOffset();
    }

    private static long itemSize(Object t) {
        return t instanceof NewTensor n ? n.dtype().itemSize() : ((Tensor) t).dtype().itemSize();
    }

    /** The shards and index of a split, as {@code StateDictSplit} holds them. */
    static final class Split {
        final Map<String, List<String>> files = new LinkedHashMap<>();
        final Map<String, String> weightMap = new LinkedHashMap<>();
        long totalSize;
    }

    /** {@code split_state_dict_into_shards_factory} with {@code get_torch_storage_size} and {@code get_torch_storage_id}. */
    static Split split(Map<String, Object> sd, long maxShardSize, Kind kind) {
        Map<Object, List<String>> byStorage = new LinkedHashMap<>();
        List<LinkedHashMap<String, Object>> shards = new ArrayList<>();
        LinkedHashMap<String, Object> current = new LinkedHashMap<>();
        long currentSize = 0;
        Split out = new Split();
        for (Map.Entry<String, Object> e : sd.entrySet()) {
            String key = e.getKey();
            Object tensor = e.getValue();
            List<String> sharing = byStorage.get(storageId(tensor));
            if (sharing != null) {
                sharing.add(key); // joins the first tensor of its storage below
                continue;
            }
            byStorage.put(storageId(tensor), new ArrayList<>(List.of(key)));
            long size = storageBytes(tensor);
            if (size > maxShardSize) {
                out.totalSize = Math.addExact(out.totalSize, size);
                LinkedHashMap<String, Object> alone = new LinkedHashMap<>();
                alone.put(key, tensor);
                shards.add(alone);
                continue;
            }
            if (currentSize + size > maxShardSize) {
                shards.add(current);
                current = new LinkedHashMap<>();
                currentSize = 0;
            }
            current.put(key, tensor);
            currentSize = Math.addExact(currentSize, size);
            out.totalSize = Math.addExact(out.totalSize, size);
        }
        if (!current.isEmpty()) {
            shards.add(current);
        }
        for (List<String> keys : byStorage.values()) {
            for (LinkedHashMap<String, Object> shard : shards) {
                if (shard.containsKey(keys.get(0))) {
                    for (String k : keys) {
                        shard.put(k, sd.get(k)); // a key already there keeps its place, as in a Python dict
                    }
                    break;
                }
            }
        }
        int n = shards.size();
        for (int i = 0; i < n; i++) {
            String name = kind.fileName(n == 1 ? "" : String.format(Locale.ROOT, "-%05d-of-%05d", i + 1, n));
            out.files.put(name, new ArrayList<>(shards.get(i).keySet()));
            for (String k : shards.get(i).keySet()) {
                out.weightMap.put(k, name);
            }
        }
        return out;
    }

    /**
     * What {@code get_torch_storage_id} tells apart: tensors of one storage share it. Storages of
     * no bytes have the data pointer 0 in torch, so they all share one.
     */
    private static Object storageId(Object tensor) {
        if (storageBytes(tensor) == 0) {
            return EMPTY_STORAGE;
        }
        return new Identity(storage(tensor));
    }

    private static final Object EMPTY_STORAGE = new Object();

    /** Identity, not equality: two storages with equal content are still two. */
    private record Identity(Object storage) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Identity i && i.storage == storage;
        }

        @Override
        public int hashCode() {
            return System.identityHashCode(storage);
        }
    }

    /** {@code get_torch_storage_size}: {@code tensor.untyped_storage().nbytes()}, the whole storage. */
    static long storageBytes(Object tensor) {
        if (tensor instanceof NewTensor n) {
            return n.toView().storage().nbytes();
        }
        StorageInfo s = ((Tensor) tensor).info().storage();
        return s.nbytes();
    }

    private static Object checkTensor(String name, Object v) {
        if (v instanceof NewTensor) {
            return v;
        }
        if (v instanceof Tensor t) {
            if (t.layout() != TensorLayout.STRIDED || t.quantization().isPresent()) {
                throw new IllegalArgumentException("tensor '" + name + "' is " + t.layout() + (t.quantization()
                        .isPresent() ? " quantized" : "") + "; sharded checkpoints hold dense tensors");
            }
            return v;
        }
        throw new IllegalArgumentException("'" + name + "' is " + (v == null ? "None" : v.getClass().getSimpleName())
                + ", not a tensor; a sharded checkpoint holds a state_dict of tensors");
    }

    /** A free temporary name in {@code folder} for {@code name}. */
    private static Path stagingName(Path folder, String name) {
        return folder.resolve("." + name + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".staged");
    }

    /**
     * Removes what an earlier save left that this one did not replace: the names
     * {@code save_torch_state_dict} removes before writing
     * ({@code filename_pattern.format(suffix=r"(-\d{5}-of-\d{5})?") + r"(\.index\.json)?"}), whole names only.
     */
    private static void removeStale(Path folder, Kind kind, List<Path> keep) throws IOException {
        Pattern stale = Pattern.compile(Pattern.quote(kind.stem) + "(-\\d{5}-of-\\d{5})?" + Pattern.quote(kind.extension)
                + "(\\.index\\.json)?");
        TreeSet<Path> doomed = new TreeSet<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(folder)) {
            for (Path p : ds) {
                if (stale.matcher(p.getFileName().toString()).matches() && !keep.contains(p)) {
                    doomed.add(p);
                }
            }
        }
        for (Path p : doomed) {
            Files.deleteIfExists(p);
        }
    }

    /** {@code json.dump({"metadata": ..., "weight_map": ...}, f, indent=2)}. */
    static String indexJson(Map<String, Object> metadata, Map<String, String> weightMap) {
        StringBuilder sb = new StringBuilder("{\n  \"metadata\": ");
        object(sb, metadata);
        sb.append(",\n  \"weight_map\": ");
        object(sb, new LinkedHashMap<>(weightMap));
        return sb.append("\n}").toString();
    }

    /** One nested object at indent level 1 (json.dump's layout: items on their own lines, "," then newline). */
    private static void object(StringBuilder sb, Map<String, ?> m) {
        if (m.isEmpty()) {
            sb.append("{}");
            return;
        }
        sb.append('{');
        boolean first = true;
        for (Map.Entry<String, ?> e : m.entrySet()) {
            sb.append(first ? "\n    " : ",\n    ");
            first = false;
            JsonText.string(sb, e.getKey(), true);
            sb.append(": ");
            if (e.getValue() instanceof String s) {
                JsonText.string(sb, s, true);
            } else {
                sb.append(e.getValue()); // total_size, a Long
            }
        }
        sb.append("\n  }");
    }
}
