package io.torchbridge.writer;

import io.torchbridge.reader.DType;
import io.torchbridge.reader.PyDict;
import io.torchbridge.reader.PyGlobal;
import io.torchbridge.reader.PyObject;
import io.torchbridge.reader.PyTuple;
import io.torchbridge.reader.Shape;
import io.torchbridge.reader.StorageInfo;
import io.torchbridge.reader.Tensor;
import io.torchbridge.reader.internal.data.Layout;
import io.torchbridge.reader.internal.pickle.Allowlist;
import io.torchbridge.writer.internal.Pickler;
import io.torchbridge.writer.internal.Sources;
import io.torchbridge.writer.internal.StorageSource;
import io.torchbridge.writer.internal.TensorView;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/**
 * Writes a torch.distributed.checkpoint (DCP) directory as torch 2.14's {@code FileSystemWriter}
 * does ({@code torch/distributed/checkpoint/filesystem.py}): a data file
 * {@code __<rank>_0.distcp} per rank holding one {@code torch.save} archive per item, one after
 * another, and a {@code .metadata} pickle of a {@code Metadata} object naming where each item
 * lies. {@code torch.distributed.checkpoint.load} reads it into a state dict of the same
 * structure (one process, no process group), and {@code dcp_to_torch_save} into one file.
 *
 * <pre>{@code
 * DcpWriter.save(stateDict, Path.of("step-100.dcp"));                  // one rank
 * DcpWriter.save(stateDict, Path.of("step-100.dcp"), 4, (name, shape) -> shape.rank() > 0 ? 0 : -1);
 * }</pre>
 *
 * <p>The state dict is flattened as DCP's {@code flatten_state_dict} does
 * ({@code _traverse.traverse_state_dict}): dict keys become their {@code str} joined by '.',
 * lists that hold tensors or dicts are entered by index, every other value (numbers, strings,
 * tuples, lists of plain values) is a bytes item (its own {@code torch.save}), tensors are tensor
 * items. An empty dict holds no item and is lost, as in DCP. Tensors: the reader's
 * {@link Tensor}s (any kind a checkpoint yields: strided, or assembled from DCP chunks) and
 * contiguous {@link NewTensor}s.
 *
 * <p>With N ranks, each tensor is split along the dimension {@link Sharding} names into N chunks
 * of {@code ceil(size / N)} (the last ones smaller, empty ones left out, as {@code torch.chunk}
 * and DTensor's {@code Shard} split), chunk r in rank r's file; a tensor it gives -1 (and every
 * 0-dim tensor) is written whole, once, by rank 0, as DCP writes a replicated one. Bytes items go
 * to rank 0.
 *
 * <p>Each chunk is streamed from the tensor's values (a chunk along dimension 0 is one range of
 * them; along a later one, a run per row), so the heap holds no tensor whole whatever its size;
 * every chunk streams the tensor's values once, so N ranks read a split tensor N times.
 *
 * <p>Crash-safe: the directory is written under a temporary name beside the target and renamed
 * into place; a target that exists is first renamed aside and deleted after the new one is in
 * place, so at no time is a partial checkpoint at the target path.
 */
public final class DcpWriter {
    private static final String METADATA_MODULE = "torch.distributed.checkpoint.metadata";
    private static final String FILESYSTEM_MODULE = "torch.distributed.checkpoint.filesystem";
    /** What {@code torch.save} into a stream names its archive folder. */
    private static final String ARCHIVE = "archive";

    private DcpWriter() {
    }

    /** How a tensor is split over the ranks. */
    @FunctionalInterface
    public interface Sharding {
        /**
         * {@return the dimension to split {@code name} along, or -1 to write it whole by rank 0}
         *
         * @param name  the tensor's flattened name
         * @param shape the tensor's shape
         */
        int dim(String name, Shape shape);
    }

    /**
     * One rank: every item in {@code __0_0.distcp}.
     *
     * @param stateDict a dict (a {@code Map} or {@link PyDict}) of tensors and other values, nested as saved
     * @param dir       the checkpoint directory; an existing one is replaced
     * @throws IOException the directory cannot be written
     */
    public static void save(Object stateDict, Path dir) throws IOException {
        save(stateDict, dir, 1, (n, s) -> -1, WriteOptions.defaults());
    }

    /**
     * {@code ranks} ranks, each tensor split as {@code sharding} says.
     *
     * @param stateDict a dict (a {@code Map} or {@link PyDict}) of tensors and other values, nested as saved
     * @param dir       the checkpoint directory; an existing one is replaced
     * @param ranks     how many ranks (data files), at least 1
     * @param sharding  which dimension each tensor is split along
     * @throws IOException the directory cannot be written
     */
    public static void save(Object stateDict, Path dir, int ranks, Sharding sharding) throws IOException {
        save(stateDict, dir, ranks, sharding, WriteOptions.defaults());
    }

    /**
     * {@code ranks} ranks, each tensor split as {@code sharding} says, with {@code options}.
     *
     * @param stateDict a dict (a {@code Map} or {@link PyDict}) of tensors and other values, nested as saved
     * @param dir       the checkpoint directory; an existing one is replaced
     * @param ranks     how many ranks (data files), at least 1
     * @param sharding  which dimension each tensor is split along
     * @param options   whether to fsync the files before the rename (its other settings are not used)
     * @throws IllegalArgumentException {@code ranks} is less than 1
     * @throws IOException              the directory cannot be written, or {@code dir} is a file
     */
    public static void save(Object stateDict, Path dir, int ranks, Sharding sharding, WriteOptions options)
            throws IOException {
        if (ranks < 1) {
            throw new IllegalArgumentException("ranks must be at least 1, not " + ranks);
        }
        List<Item> items = new ArrayList<>();
        flatten(stateDict, items);
        Plan plan = plan(items, ranks, sharding);

        Path target = dir.toAbsolutePath();
        Path parent = target.getParent();
        Files.createDirectories(parent);
        Path tmp = parent.resolve("." + target.getFileName() + ".tmp-" + Long.toHexString(ThreadLocalRandom.current()
                .nextLong()));
        Files.createDirectory(tmp);
        boolean done = false;
        try {
            Map<Object, Object> storageData = new LinkedHashMap<>();
            for (int r = 0; r < ranks; r++) {
                String file = "__" + r + "_0.distcp";
                try (FileChannel ch = FileChannel.open(tmp.resolve(file), StandardOpenOption.CREATE_NEW,
                        StandardOpenOption.WRITE)) {
                    for (Piece p : plan.byRank.get(r)) {
                        long start = ch.position();
                        CheckpointWriter.writeArchive(ch, ARCHIVE, p.pickle, p.storages, options);
                        long length = ch.position() - start;
                        storageData.put(metadataIndex(p.fqn, p.offsets), storageInfo(file, start, length));
                    }
                    if (options.fsync()) {
                        ch.force(true);
                    }
                }
            }
            byte[] metadata = new Pickler(o -> null, g -> Allowlist.isDcpMetadataGlobal(g.module(), g.name()))
                    .dump(metadata(plan, storageData, target));
            Files.write(tmp.resolve(".metadata"), metadata, StandardOpenOption.CREATE_NEW);
            commit(tmp, target, options);
            done = true;
        } finally {
            if (!done) {
                deleteTree(tmp);
            }
        }
    }

    /** One flattened entry: its dotted name, its key path, and its value. */
    private record Item(String fqn, List<Object> path, Object value) {
    }

    /** {@code flatten_state_dict}: see the class comment. */
    private static void flatten(Object stateDict, List<Item> out) {
        Map<?, ?> top = mapOf(stateDict);
        if (top == null) {
            throw new IllegalArgumentException("a DCP state dict is a dict (PyDict or Map), not a "
                    + (stateDict == null ? "None" : stateDict.getClass().getName()));
        }
        Map<String, Boolean> seen = new java.util.HashMap<>();
        for (Map.Entry<?, ?> e : top.entrySet()) {
            walk(List.of(str(e.getKey())), e.getValue(), out, seen);
        }
    }

    private static void walk(List<Object> path, Object v, List<Item> out, Map<String, Boolean> seen) {
        Map<?, ?> m = mapOf(v);
        if (m != null) {
            for (Map.Entry<?, ?> e : m.entrySet()) {
                walk(append(path, str(e.getKey())), e.getValue(), out, seen);
            }
        } else if (v instanceof List<?> l && !terminal(l)) {
            for (int i = 0; i < l.size(); i++) {
                walk(append(path, (long) i), l.get(i), out, seen);
            }
        } else {
            StringBuilder fqn = new StringBuilder();
            for (Object k : path) {
                fqn.append(fqn.length() == 0 ? "" : ".").append(k);
            }
            if (seen.put(fqn.toString(), true) != null) {
                throw new IllegalArgumentException("two values flatten to the same name '" + fqn
                        + "' (DCP refuses it too: duplicated flatten key)");
            }
            out.add(new Item(fqn.toString(), path, v));
        }
    }

    /** {@code _traverse._is_terminal} for a list: no tensor in it, nor a dict or a list that is not terminal. */
    private static boolean terminal(List<?> l) {
        for (Object o : l) {
            if (isTensor(o) || mapOf(o) != null || o instanceof List<?> inner && !terminal(inner)) {
                return false;
            }
        }
        return true;
    }

    private static Map<?, ?> mapOf(Object o) {
        return o instanceof PyDict d ? d.items() : o instanceof Map<?, ?> m ? m : null;
    }

    private static boolean isTensor(Object o) {
        return o instanceof Tensor || o instanceof NewTensor;
    }

    private static List<Object> append(List<Object> path, Object key) {
        List<Object> p = new ArrayList<>(path);
        p.add(key);
        return List.copyOf(p);
    }

    /** Python's {@code str(key)} for the keys a state dict has. */
    private static String str(Object k) {
        if (k instanceof String s) {
            return s;
        } else if (k instanceof Long || k instanceof Integer || k instanceof java.math.BigInteger) {
            return k.toString();
        } else if (k instanceof Boolean b) {
            return b ? "True" : "False";
        }
        throw new IllegalArgumentException("a DCP state dict key is a str or an int, not a "
                + (k == null ? "None" : k.getClass().getName()));
    }

    /** One item of a data file: its archive (pickle and storages) and where it belongs. */
    private record Piece(String fqn, long[] offsets, byte[] pickle, List<StorageSource> storages) {
    }

    /** A tensor's metadata: dtype, size and its chunks (offsets, sizes). */
    private record TensorMeta(DType dtype, long[] size, List<long[][]> chunks) {
    }

    private static final class Plan {
        final List<List<Piece>> byRank = new ArrayList<>();
        /** fqn to TensorMeta, or to null for a bytes item, in the state dict's order. */
        final Map<String, TensorMeta> entries = new LinkedHashMap<>();
        final Map<String, List<Object>> paths = new LinkedHashMap<>();
    }

    private static Plan plan(List<Item> items, int ranks, Sharding sharding) {
        Plan plan = new Plan();
        for (int r = 0; r < ranks; r++) {
            plan.byRank.add(new ArrayList<>());
        }
        // the metadata lists entries in the state dict's order (tensors put in their place below);
        // FileSystemWriter writes a file's bytes items before its tensors
        for (Item it : items) {
            plan.paths.put(it.fqn, it.path);
            plan.entries.put(it.fqn, null);
            if (!isTensor(it.value)) {
                Map<StorageInfo, StorageSource> mapped = new IdentityHashMap<>();
                Pickler p = new Pickler(o -> CheckpointWriter.view(o, mapped));
                byte[] pkl = p.dump(it.value);
                plan.byRank.get(0).add(new Piece(it.fqn, null, pkl, p.storages()));
            }
        }
        for (Item it : items) {
            if (!isTensor(it.value)) {
                continue;
            }
            Values v = values(it.fqn, it.value);
            long[] size = v.shape;
            int dim = ranks == 1 || size.length == 0 ? -1 : sharding.dim(it.fqn, Shape.of(size));
            if (dim < -1 || dim >= size.length) {
                throw new IllegalArgumentException("sharding puts '" + it.fqn + "' along dimension " + dim
                        + ", but it has " + size.length);
            }
            List<long[][]> chunks = new ArrayList<>();
            if (dim < 0 || size[dim] == 0) {
                chunks.add(new long[][] {new long[size.length], size.clone()});
                plan.byRank.get(0).add(chunk(it.fqn, v, chunks.get(0), -1));
            } else {
                long step = (size[dim] + ranks - 1) / ranks;
                for (int r = 0; r < ranks; r++) {
                    long lo = Math.min(size[dim], r * step);
                    long hi = Math.min(size[dim], lo + step);
                    if (lo == hi) {
                        continue;
                    }
                    long[] offsets = new long[size.length];
                    long[] sizes = size.clone();
                    offsets[dim] = lo;
                    sizes[dim] = hi - lo;
                    long[][] box = {offsets, sizes};
                    chunks.add(box);
                    plan.byRank.get(r).add(chunk(it.fqn, v, box, dim));
                }
            }
            plan.entries.put(it.fqn, new TensorMeta(v.dtype, size, chunks));
        }
        return plan;
    }

    /** A tensor's logical values (row-major, little-endian) as a stream. */
    private record Values(DType dtype, long[] shape, StorageSource source) {
    }

    private static Values values(String fqn, Object t) {
        if (t instanceof Tensor r) {
            if (r.layout() != io.torchbridge.reader.TensorLayout.STRIDED || r.quantization().isPresent()) {
                throw new IllegalArgumentException("'" + fqn + "' is a " + r.layout() + (r.quantization().isPresent()
                        ? " quantized" : "") + " tensor; DCP items here are dense strided tensors");
            }
            return new Values(r.dtype(), r.shape().toArray(), Sources.logical(r));
        }
        NewTensor n = (NewTensor) t;
        TensorView view = n.toView();
        long[] shape = view.shape();
        if (view.offset() != 0 || !Layout.isContiguous(shape, view.stride()) || view.conj() || view.neg()) {
            throw new IllegalArgumentException("'" + fqn + "' is a view (offset, strides, conj or neg); DcpWriter "
                    + "takes contiguous NewTensors");
        }
        long nbytes = Math.multiplyExact(Layout.numel(shape), (long) view.dtype().itemSize());
        StorageSource storage = view.storage();
        StorageSource first = new StorageSource() {
            @Override
            public DType dtype() {
                return view.dtype();
            }

            @Override
            public long nbytes() {
                return nbytes;
            }

            @Override
            public void writeTo(Sink sink) throws IOException {
                storage.writeTo(new Window(sink, 0, nbytes, 1, nbytes));
            }
        };
        return new Values(view.dtype(), shape, first);
    }

    /** A chunk's archive: {@code torch.save} of a contiguous tensor of the box's values. */
    private static Piece chunk(String fqn, Values v, long[][] box, int dim) {
        long[] size = v.shape;
        long[] sizes = box[1];
        int item = v.dtype.itemSize();
        long nbytes = Math.multiplyExact(Layout.numel(sizes), (long) item);
        StorageSource source;
        if (dim < 0) {
            source = v.source;
        } else {
            // the values are blocks of size[dim] * inner bytes, one per index of the dimensions
            // before dim; the chunk keeps [lo * inner, hi * inner) of each
            long inner = item;
            for (int d = dim + 1; d < size.length; d++) {
                inner = Math.multiplyExact(inner, size[d]);
            }
            long block = Math.multiplyExact(size[dim], inner);
            long from = Math.multiplyExact(box[0][dim], inner);
            long keep = Math.multiplyExact(sizes[dim], inner);
            source = new StorageSource() {
                @Override
                public DType dtype() {
                    return v.dtype;
                }

                @Override
                public long nbytes() {
                    return nbytes;
                }

                @Override
                public void writeTo(Sink sink) throws IOException {
                    v.source.writeTo(new Window(sink, from, keep, block, nbytes));
                }
            };
        }
        TensorView view = new TensorView(source, null, v.dtype, sizes.clone(), rowMajor(sizes), 0, false, false,
                false, false);
        Object marker = new Object();
        Pickler p = new Pickler(o -> o == marker ? view : null);
        byte[] pkl = p.dump(marker);
        return new Piece(fqn, box[0].clone(), pkl, p.storages());
    }

    /**
     * Passes on the bytes {@code [from, from + keep)} of every block of {@code block} bytes of a
     * stream, and no more than {@code total} bytes in all.
     */
    private static final class Window implements StorageSource.Sink {
        private final StorageSource.Sink to;
        private final long from;
        private final long keep;
        private final long block;
        private final long total;
        private long at;
        private long passed;

        Window(StorageSource.Sink to, long from, long keep, long block, long total) {
            this.to = to;
            this.from = from;
            this.keep = keep;
            this.block = block;
            this.total = total;
        }

        @Override
        public void write(ByteBuffer piece) throws IOException {
            while (piece.hasRemaining()) {
                long q = block == 1 ? at : at % block; // block 1: one window over the whole stream
                long lo = from;
                long hi = lo + keep;
                int n;
                if (q < lo) {
                    n = (int) Math.min(piece.remaining(), lo - q);
                    piece.position(piece.position() + n);
                } else if (q < hi && passed < total) {
                    n = (int) Math.min(Math.min(piece.remaining(), hi - q), total - passed);
                    ByteBuffer part = piece.duplicate();
                    part.limit(part.position() + n);
                    to.write(part);
                    piece.position(piece.position() + n);
                    passed += n;
                } else {
                    n = (int) Math.min(piece.remaining(), block == 1 ? piece.remaining() : block - q);
                    piece.position(piece.position() + n);
                }
                at += n;
            }
        }

        @Override
        public ByteBuffer scratch() {
            return to.scratch();
        }
    }

    private static long[] rowMajor(long[] shape) {
        long[] s = new long[shape.length];
        long acc = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            s[i] = acc;
            acc = Math.multiplyExact(acc, Math.max(shape[i], 1));
        }
        return s;
    }

    // --- the .metadata pickle: torch's classes as NEWOBJ + BUILD of their field dicts ------------

    private static PyObject newObject(String module, String cls, Object state) {
        return new PyObject(new PyGlobal("copyreg", "__newobj__"), PyTuple.of(new PyGlobal(module, cls)), state);
    }

    private static PyObject size(long[] dims) {
        List<Object> l = new ArrayList<>();
        for (long d : dims) {
            l.add(d);
        }
        return new PyObject(new PyGlobal("torch", "Size"), PyTuple.of(new PyTuple(l)), null);
    }

    private static PyObject metadataIndex(String fqn, long[] offsets) {
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("fqn", fqn);
        f.put("offset", offsets == null ? null : size(offsets));
        f.put("index", null);
        return newObject(METADATA_MODULE, "MetadataIndex", f);
    }

    /** {@code _StorageInfo.__getstate__}: its fields but those that are None. */
    private static PyObject storageInfo(String file, long offset, long length) {
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("relative_path", file);
        f.put("offset", offset);
        f.put("length", length);
        return newObject(FILESYSTEM_MODULE, "_StorageInfo", f);
    }

    private static PyObject metadata(Plan plan, Map<Object, Object> storageData, Path target) {
        PyObject layout = new PyObject(new PyGlobal("torch.serialization", "_get_layout"), PyTuple.of("torch.strided"),
                null);
        PyObject contiguous = new PyObject(new PyGlobal(METADATA_MODULE, "_MEM_FORMAT_ENCODING"), PyTuple.of(0L), null);
        Map<String, Object> entries = new LinkedHashMap<>();
        for (Map.Entry<String, TensorMeta> e : plan.entries.entrySet()) {
            TensorMeta t = e.getValue();
            if (t == null) {
                entries.put(e.getKey(), newObject(METADATA_MODULE, "BytesStorageMetadata", null));
                continue;
            }
            // TensorProperties.__getstate__: (dtype, layout, requires_grad, memory format, pin_memory)
            PyObject properties = newObject(METADATA_MODULE, "TensorProperties", PyTuple.of(
                    new PyGlobal("torch", t.dtype().pythonName()), layout, false, contiguous, false));
            List<Object> chunks = new ArrayList<>();
            for (long[][] c : t.chunks()) {
                Map<String, Object> f = new LinkedHashMap<>();
                f.put("offsets", size(c[0]));
                f.put("sizes", size(c[1]));
                chunks.add(newObject(METADATA_MODULE, "ChunkStorageMetadata", f));
            }
            Map<String, Object> f = new LinkedHashMap<>();
            f.put("properties", properties);
            f.put("size", size(t.size()));
            f.put("chunks", chunks);
            entries.put(e.getKey(), newObject(METADATA_MODULE, "TensorStorageMetadata", f));
        }
        Map<String, Object> plannerData = new LinkedHashMap<>();
        plan.paths.forEach((k, p) -> plannerData.put(k, new PyTuple(p)));
        Map<String, Object> storageMeta = new LinkedHashMap<>();
        storageMeta.put("checkpoint_id", target.toString());
        storageMeta.put("save_id", UUID.randomUUID().toString());
        storageMeta.put("load_id", null);
        storageMeta.put("modules", new ArrayList<>());
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("state_dict_metadata", entries);
        f.put("planner_data", plannerData);
        f.put("storage_data", storageData);
        f.put("storage_meta", newObject(METADATA_MODULE, "StorageMeta", storageMeta));
        f.put("version", "1.0.0"); // filesystem.py, CURRENT_DCP_VERSION
        return newObject(METADATA_MODULE, "Metadata", f);
    }

    // --- the commit ---------------------------------------------------------------------------

    private static void commit(Path tmp, Path target, WriteOptions options) throws IOException {
        if (options.fsync()) {
            CheckpointWriter.syncDirectory(tmp);
        }
        Path aside = null;
        if (Files.exists(target, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            if (!Files.isDirectory(target, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                throw new FileAlreadyExistsException(target.toString(), null, "exists and is not a directory");
            }
            aside = target.resolveSibling("." + target.getFileName() + ".old-"
                    + Long.toHexString(ThreadLocalRandom.current().nextLong()));
            Files.move(target, aside, StandardCopyOption.ATOMIC_MOVE);
        }
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            if (aside != null) {
                Files.move(aside, target, StandardCopyOption.ATOMIC_MOVE); // put the old one back
            }
            throw e;
        }
        if (options.fsync()) {
            CheckpointWriter.syncDirectory(target.getParent());
        }
        if (aside != null) {
            deleteTree(aside);
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(q);
            }
        }
    }
}
