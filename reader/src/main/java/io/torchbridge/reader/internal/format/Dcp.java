package io.torchbridge.reader.internal.format;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.reader.DType;
import io.torchbridge.reader.Format;
import io.torchbridge.reader.PyGlobal;
import io.torchbridge.reader.PyTuple;
import io.torchbridge.reader.ReadOptions;
import io.torchbridge.reader.StorageInfo;
import io.torchbridge.reader.internal.Checked;
import io.torchbridge.reader.internal.data.Assembly;
import io.torchbridge.reader.internal.data.Layout;
import io.torchbridge.reader.internal.data.MappedFile;
import io.torchbridge.reader.internal.pickle.PickleReader;
import io.torchbridge.reader.internal.pickle.RawDict;
import io.torchbridge.reader.internal.pickle.RawObject;
import io.torchbridge.reader.internal.pickle.StorageRef;
import io.torchbridge.reader.internal.pickle.TensorSpec;
import io.torchbridge.reader.internal.zip.ZipContainer;
import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * A torch.distributed.checkpoint (DCP) directory, as {@code FileSystemWriter} writes it
 * ({@code torch/distributed/checkpoint/filesystem.py}): a {@code .metadata} pickle of a
 * {@code Metadata} object and data files {@code __<rank>_<n>.distcp}. Read as one checkpoint whose
 * object is what {@code format_utils.dcp_to_torch_save} saves: the nested state dict.
 *
 * <p>{@code Metadata.state_dict_metadata} maps each flattened name ({@code model.fc.weight}) to a
 * {@code TensorStorageMetadata} (dtype in {@code properties}, the whole {@code size}, and
 * {@code chunks}: each a box of the tensor, {@code offsets} and {@code sizes}) or a
 * {@code BytesStorageMetadata}. {@code storage_data} maps each {@code MetadataIndex(fqn, offset)}
 * (a chunk's offsets, None for bytes) to a {@code _StorageInfo(relative_path, offset, length)}:
 * where in which data file the item lies. Each item is one {@code torch.save} archive
 * ({@code _write_item}: a tensor chunk saved alone, or a bytes item's object saved by the planner),
 * written one after another into the rank's file. {@code planner_data} maps each flattened name to
 * its key path in the nested dict ({@code ('optimizer', 'state', '0', 'exp_avg')}); dcp_to_torch_save
 * rebuilds the nesting with {@code _traverse.set_element} from it, and so does this reader.
 *
 * <p>A tensor of one chunk is that chunk's storage, zero-copy. A tensor of several chunks (saved
 * by several ranks) is an {@link Assembly} of them, checked to tile the tensor exactly.
 *
 * <p>Owns the data files it opens ({@link #close()}); the {@code .metadata} file is read and
 * closed during the open.
 */
public final class Dcp implements CheckpointFormat, AutoCloseable {
    /** {@code filesystem.py, _metadata_fn}. */
    public static final String METADATA = ".metadata";
    private static final String MODULE = "torch.distributed.checkpoint.metadata";

    private final Path dir;
    private final Map<String, MappedFile> files = new LinkedHashMap<>();
    private int version;

    /** Reads the DCP directory {@code dir} (its {@code .metadata} and the data files it names). */
    public Dcp(Path dir) {
        this.dir = dir;
    }

    /** The directory of a DCP checkpoint given as the directory or its {@code .metadata} file. */
    public static Path directoryOf(Path path) {
        if (Files.isDirectory(path)) {
            return path;
        }
        Path parent = path.toAbsolutePath().getParent();
        return parent == null ? path : parent;
    }

    /** Whether {@code path} is named as DCP names its metadata file (the caller has sniffed it as DCP). */
    public static boolean isMetadataFile(Path path) {
        Path name = path.getFileName();
        return name != null && name.toString().equals(METADATA);
    }

    /** {@code .metadata}, then the data files the metadata names, in name order. */
    public List<String> records() {
        List<String> out = new ArrayList<>();
        out.add(METADATA);
        out.addAll(new TreeSet<>(files.keySet()));
        return out;
    }

    public int version() {
        return version;
    }

    @Override
    public Unpickled unpickle(ReadOptions options, boolean allowTrailing) throws CheckpointException {
        RawObject metadata = metadata(options);
        Map<String, Object> fields = fields(metadata, METADATA, "Metadata");
        version = major(fields.get("version"));
        Map<Object, Object> entries = dict(fields.get("state_dict_metadata"), "Metadata.state_dict_metadata");
        Object plannerData = fields.get("planner_data");
        Map<Object, Object> paths = plannerData == null ? Map.of() : dict(plannerData, "Metadata.planner_data");
        Map<Key, Map<String, Object>> storage = storageData(fields.get("storage_data"));
        RawDict root = RawDict.dict();
        for (Map.Entry<Object, Object> e : entries.entrySet()) {
            if (!(e.getKey() instanceof String fqn)) {
                throw malformed("state_dict_metadata has a key that is not a str: " + typeName(e.getKey()));
            }
            Object value;
            if (e.getValue() instanceof RawObject o && isClass(o, "TensorStorageMetadata")) {
                value = tensor(fqn, fields(o, fqn, "TensorStorageMetadata"), storage, options);
            } else if (e.getValue() instanceof RawObject o && isClass(o, "BytesStorageMetadata")) {
                value = bytesItem(fqn, storage, options);
            } else {
                throw malformed("state_dict_metadata['" + fqn + "'] is a " + typeName(e.getValue())
                        + ", not a TensorStorageMetadata or BytesStorageMetadata");
            }
            Object path = paths.get(fqn);
            setElement(root, path == null ? List.of(fqn) : sequence(path, "planner_data['" + fqn + "']"), value,
                    fqn, entries.size());
        }
        return new Unpickled(Format.DCP, root, version, ByteOrder.LITTLE_ENDIAN, null);
    }

    private RawObject metadata(ReadOptions options) throws CheckpointException {
        Path p = dir.resolve(METADATA);
        byte[] bytes;
        try (MappedFile f = MappedFile.open(p)) {
            if (f.size() > options.maxPickleBytes()) { // safety: dcp-metadata-size
                throw CheckpointException.at(Kind.LIMIT_EXCEEDED, METADATA, -1, "the metadata pickle has " + f.size()
                        + " bytes, more than " + options.maxPickleBytes() + " (ReadOptions.maxPickleBytes)");
            }
            bytes = f.read(0, (int) f.size());
        } catch (CheckpointException e) {
            throw e;
        } catch (IOException e) {
            throw CheckpointException.of(Kind.IO, "cannot read " + p + ": " + e).withCause(e);
        }
        Object root = PickleReader.forDcpMetadata(options, METADATA).read(bytes, false);
        if (!(root instanceof RawObject) || !isClass((RawObject) root, "Metadata")) { // safety: dcp-metadata-root
            throw malformed("the pickle holds a " + typeName(root) + ", not a torch.distributed.checkpoint "
                    + "Metadata object");
        }
        return (RawObject) root;
    }

    /** storage_data as (fqn, chunk offsets or null) to the _StorageInfo's fields. */
    private Map<Key, Map<String, Object>> storageData(Object raw) throws CheckpointException {
        Map<Key, Map<String, Object>> out = new HashMap<>();
        for (Map.Entry<Object, Object> e : dict(raw, "Metadata.storage_data").entrySet()) {
            if (!(e.getKey() instanceof RawObject k) || !isClass(k, "MetadataIndex")) {
                throw malformed("storage_data has a key that is a " + typeName(e.getKey()) + ", not a MetadataIndex");
            }
            Map<String, Object> index = fields(k, METADATA, "MetadataIndex");
            if (!(index.get("fqn") instanceof String fqn)) {
                throw malformed("a MetadataIndex has no str fqn");
            }
            Object offset = index.get("offset");
            Key key = new Key(fqn, offset == null ? null : dims(offset, "MetadataIndex('" + fqn + "').offset"));
            if (!(e.getValue() instanceof RawObject v)
                    || !v.callable.fullName().equals("torch.distributed.checkpoint.filesystem._StorageInfo")) {
                throw malformed("storage_data of '" + fqn + "' is a " + typeName(e.getValue())
                        + ", not the _StorageInfo of torch's FileSystemWriter");
            }
            Map<String, Object> before = out.put(key, fields(v, fqn, "_StorageInfo"));
            if (before != null) { // safety: dcp-storage-key-unique
                throw malformed("storage_data names the item " + key + " twice");
            }
        }
        return out;
    }

    /** A MetadataIndex as the reader looks items up: by name and, for a chunk, its offsets. */
    private record Key(String fqn, List<Long> offsets) {
        Key(String fqn, long[] offsets) {
            this(fqn, offsets == null ? null : Arrays.stream(offsets).boxed().toList());
        }

        @Override
        public String toString() {
            return "'" + fqn + "'" + (offsets == null ? "" : " at " + offsets);
        }
    }

    private Object tensor(String fqn, Map<String, Object> meta, Map<Key, Map<String, Object>> storage,
                          ReadOptions options) throws CheckpointException {
        DType dtype = dtype(fqn, meta.get("properties"));
        long[] shape = dims(meta.get("size"), "the size of '" + fqn + "'");
        long numel;
        try {
            numel = Layout.numel(shape);
        } catch (ArithmeticException e) {
            throw malformed("tensor '" + fqn + "' has a size whose element count overflows: " + Arrays.toString(shape));
        }
        Object rawChunks = meta.get("chunks");
        if (!(rawChunks instanceof List<?> chunks)) {
            throw malformed("tensor '" + fqn + "' has no list of chunks");
        }
        List<long[][]> boxes = new ArrayList<>();
        for (Object c : chunks) {
            if (!(c instanceof RawObject o) || !isClass(o, "ChunkStorageMetadata")) {
                throw malformed("a chunk of '" + fqn + "' is a " + typeName(c) + ", not a ChunkStorageMetadata");
            }
            Map<String, Object> f = fields(o, fqn, "ChunkStorageMetadata");
            boxes.add(new long[][] {dims(f.get("offsets"), "a chunk's offsets of '" + fqn + "'"),
                dims(f.get("sizes"), "a chunk's sizes of '" + fqn + "'")});
        }
        requireChunksTile(fqn, shape, numel, boxes);
        List<Assembly.Piece> pieces = new ArrayList<>();
        TensorSpec whole = null;
        for (long[][] box : boxes) {
            Key key = new Key(fqn, box[0]);
            Map<String, Object> info = storage.get(key);
            if (info == null) { // safety: dcp-chunk-has-storage
                throw malformed("chunk " + key + " has no entry in storage_data, so no data file holds it");
            }
            Object item = item(key, info, options);
            if (!(item instanceof TensorSpec spec)) {
                throw malformed("the item of chunk " + key + " holds a " + typeName(item) + ", not a tensor");
            }
            requireChunkMatches(key, spec, dtype, box[1]);
            spec.requiresGrad = false; // dcp_to_torch_save fills torch.empty(size, dtype=...): a plain tensor
            spec.parameter = false;
            if (boxes.size() == 1 && Arrays.equals(box[1], shape)) {
                whole = spec;
            }
            pieces.add(new Assembly.Piece(spec.storage.region(), new Layout(spec.dtype, spec.shape, spec.stride,
                    spec.offset, spec.conj, spec.neg, spec.storage.region().order() != ByteOrder.LITTLE_ENDIAN), box[0]));
        }
        if (whole != null) {
            return whole; // one chunk: its storage, zero-copy
        }
        long nbytes = Checked.multiply(numel, dtype.itemSize(), fqn, "tensor size");
        StorageRef ref = new StorageRef(new StorageInfo("dcp/" + fqn, dtype.storageName(), "cpu", nbytes), dtype,
                null, null);
        return TensorSpec.assembled(ref, dtype, shape, new Assembly(dtype, shape, pieces));
    }

    /**
     * The chunks must cover the tensor exactly once: each inside it, none overlapping, and their
     * elements adding up to the tensor's (which, with no overlap, leaves no gap).
     */
    static void requireChunksTile(String fqn, long[] shape, long numel, List<long[][]> boxes)
            throws CheckpointException {
        long covered = 0;
        for (long[][] b : boxes) {
            if (b[0].length != shape.length || b[1].length != shape.length) { // safety: dcp-chunk-rank
                throw malformed("a chunk of '" + fqn + "' has offsets " + Arrays.toString(b[0]) + " and sizes "
                        + Arrays.toString(b[1]) + " for a tensor of " + shape.length + " dimensions");
            }
            for (int d = 0; d < shape.length; d++) {
                if (b[0][d] < 0 || b[1][d] < 0 || !Checked.fits(b[0][d], b[1][d], shape[d])) { // safety: dcp-chunk-inside
                    throw CheckpointException.at(Kind.OUT_OF_RANGE, METADATA, -1, "a chunk of '" + fqn
                            + "' at offsets " + Arrays.toString(b[0]) + " with sizes " + Arrays.toString(b[1])
                            + " lies outside the tensor's size " + Arrays.toString(shape)).forTensor(fqn);
                }
            }
            covered = Checked.add(covered, Layout.numel(b[1]), METADATA, "chunk elements of '" + fqn + "'");
        }
        long[][][] overlapping = overlapping(shape, boxes);
        if (overlapping != null) { // safety: dcp-chunks-disjoint
            throw malformed("chunks of '" + fqn + "' overlap: offsets " + Arrays.toString(overlapping[0][0])
                    + " sizes " + Arrays.toString(overlapping[0][1]) + " and offsets "
                    + Arrays.toString(overlapping[1][0]) + " sizes " + Arrays.toString(overlapping[1][1]));
        }
        if (covered != numel) { // safety: dcp-chunks-cover
            throw malformed("the chunks of '" + fqn + "' hold " + covered + " elements, the tensor of size "
                    + Arrays.toString(shape) + " has " + numel + ": part of it is in no chunk");
        }
    }

    /** The most chunks of one tensor compared pair by pair (where they are not all split along one dimension). */
    static final int MAX_PAIRWISE_CHUNKS = 4096;

    /**
     * Two chunks that overlap, or null. Chunks that all span every dimension but one (a 1-D mesh:
     * Shard(d), FSDP) are sorted along it and compared with their neighbour; any others pair by
     * pair, at most {@link #MAX_PAIRWISE_CHUNKS} of them.
     */
    private static long[][][] overlapping(long[] shape, List<long[][]> boxes) throws CheckpointException {
        int along = -1;
        boolean oneDimension = true;
        for (long[][] b : boxes) {
            for (int d = 0; d < shape.length && oneDimension; d++) {
                if (b[0][d] != 0 || b[1][d] != shape[d]) {
                    if (along >= 0 && along != d) {
                        oneDimension = false;
                    }
                    along = d;
                }
            }
        }
        if (oneDimension) {
            int d = Math.max(along, 0);
            List<long[][]> sorted = new ArrayList<>(boxes);
            sorted.removeIf(b -> Layout.numel(b[1]) == 0);
            sorted.sort((a, b) -> shape.length == 0 ? 0 : Long.compare(a[0][d], b[0][d]));
            for (int i = 1; i < sorted.size(); i++) {
                if (overlap(sorted.get(i - 1), sorted.get(i))) {
                    return new long[][][] {sorted.get(i - 1), sorted.get(i)};
                }
            }
            return null;
        }
        if (boxes.size() > MAX_PAIRWISE_CHUNKS) {
            throw CheckpointException.at(Kind.LIMIT_EXCEEDED, METADATA, -1, "a tensor in " + boxes.size()
                    + " chunks split along several dimensions; at most " + MAX_PAIRWISE_CHUNKS + " are checked");
        }
        for (int i = 0; i < boxes.size(); i++) {
            for (int j = i + 1; j < boxes.size(); j++) {
                if (overlap(boxes.get(i), boxes.get(j))) {
                    return new long[][][] {boxes.get(i), boxes.get(j)};
                }
            }
        }
        return null;
    }

    private static boolean overlap(long[][] a, long[][] b) {
        for (int d = 0; d < a[0].length; d++) {
            long lo = Math.max(a[0][d], b[0][d]);
            long hi = Math.min(a[0][d] + a[1][d], b[0][d] + b[1][d]); // inside the tensor: no overflow
            if (lo >= hi) {
                return false;
            }
        }
        return true;
    }

    private static void requireChunkMatches(Key key, TensorSpec spec, DType dtype, long[] sizes)
            throws CheckpointException {
        if (spec.refusal != null) {
            throw spec.refusal.forTensor(key.fqn());
        }
        if (spec.parts != null || spec.quant != null || spec.assembly != null) {
            throw CheckpointException.at(Kind.UNSUPPORTED, METADATA, -1, "chunk " + key
                    + " is a sparse, nested or quantized tensor, which DCP chunks are not read as").forTensor(key.fqn());
        }
        if (spec.dtype != dtype || !Arrays.equals(spec.shape, sizes)) { // safety: dcp-chunk-matches
            throw malformed("chunk " + key + " holds a " + spec.dtype + " tensor of size " + Arrays.toString(spec.shape)
                    + " where the metadata declares " + dtype + " of size " + Arrays.toString(sizes));
        }
    }

    /** A bytes item: the object its torch.save archive holds (DCP loads it with torch.load). */
    private Object bytesItem(String fqn, Map<Key, Map<String, Object>> storage, ReadOptions options)
            throws CheckpointException {
        Key key = new Key(fqn, (List<Long>) null);
        Map<String, Object> info = storage.get(key);
        if (info == null) { // safety: dcp-bytes-has-storage
            throw malformed("bytes item '" + fqn + "' has no entry in storage_data, so no data file holds it");
        }
        return item(key, info, options);
    }

    /** The raw object of one item: its torch.save archive read in place, in its data file. */
    private Object item(Key key, Map<String, Object> info, ReadOptions options) throws CheckpointException {
        if (!(info.get("relative_path") instanceof String rel)) {
            throw malformed("the _StorageInfo of " + key + " has no str relative_path");
        }
        long offset = integer(info.get("offset"), "the offset of " + key);
        long length = integer(info.get("length"), "the length of " + key);
        Object transforms = info.get("transform_descriptors");
        if (transforms instanceof List<?> l && !l.isEmpty()) { // safety: dcp-no-transforms
            throw CheckpointException.at(Kind.UNSUPPORTED, rel, offset, "item " + key + " was written through "
                    + "storage transforms " + l + " (a StorageWriter extension such as compression), which are not "
                    + "read; in Python, dcp_to_torch_save(dir, path) writes a plain torch.save checkpoint");
        }
        MappedFile file = file(rel);
        if (offset < 0 || length < 0 || !Checked.fits(offset, length, file.size())) { // safety: dcp-item-inside-file
            throw CheckpointException.at(Kind.OUT_OF_RANGE, rel, offset, "item " + key + " spans bytes [" + offset
                    + ", +" + length + ") but " + rel + " has " + file.size() + " bytes");
        }
        ZipContainer zip = ZipContainer.open(file, offset, length, false);
        String where = rel + "@" + offset;
        TorchZip.Storages storages = new TorchZip.Storages(zip.names().size());
        ByteOrder order = TorchZip.byteOrder(file, zip);
        ZipContainer.Entry pkl = zip.entry("data.pkl").orElseThrow(() -> CheckpointException.at(Kind.MALFORMED,
                rel, offset, "item " + key + " is an archive without data.pkl, not a torch.save archive"));
        byte[] pickle = zip.read(file, pkl, options.maxPickleBytes());
        PickleReader reader = new PickleReader(options, where + "/data.pkl", (type, dtype, k, location, numel) -> {
            StorageRef r = TorchZip.storage(file, zip, storages, order, type, dtype, k, location, numel);
            // every item's archive numbers its storages from 0: a key unique in the checkpoint
            return new StorageRef(new StorageInfo(where + "/" + k, type, location, r.info().nbytes()), r.dtype(),
                    r.region(), r.stored());
        });
        Object root = reader.read(pickle, false);
        CheckpointException unreadable = reader.unreadableTensor();
        if (unreadable != null) {
            throw unreadable.forTensor(key.fqn());
        }
        return root;
    }

    /** A data file the metadata names, opened once; only a plain name inside the directory. */
    private MappedFile file(String rel) throws CheckpointException {
        MappedFile known = files.get(rel);
        if (known != null) {
            return known;
        }
        if (!plainName(rel)) { // safety: dcp-path-inside-directory
            throw malformed("storage_data names the data file '" + rel + "', which is not a plain file name inside "
                    + "the checkpoint's directory (DCP writes __<rank>_<n>.distcp beside .metadata)");
        }
        Path p = dir.resolve(rel);
        if (!Files.isRegularFile(p)) { // safety: dcp-data-file-present
            throw CheckpointException.at(Kind.MALFORMED, rel, -1, "the metadata names the data file " + rel
                    + ", which is not in " + dir + " (an incomplete copy of the checkpoint?)");
        }
        try {
            MappedFile f = MappedFile.open(p);
            files.put(rel, f);
            return f;
        } catch (IOException e) {
            throw CheckpointException.of(Kind.IO, "cannot open " + p + ": " + e).withCause(e);
        }
    }

    static boolean plainName(String rel) {
        return !rel.isEmpty() && !rel.equals(".") && !rel.equals("..") && rel.indexOf('/') < 0
                && rel.indexOf('\\') < 0 && rel.indexOf('\0') < 0 && rel.indexOf(':') < 0;
    }

    /**
     * {@code _traverse.set_element}: walks {@code path} from the root, making a dict for a str key
     * and a list for an int key where nothing is yet, lists padded with None up to the index.
     */
    private static void setElement(RawDict root, List<Object> path, Object value, String fqn, int entries)
            throws CheckpointException {
        if (path.isEmpty()) {
            throw malformed("planner_data gives '" + fqn + "' an empty key path");
        }
        Object container = root;
        for (int i = 1; i <= path.size(); i++) {
            Object key = path.get(i - 1);
            boolean last = i == path.size();
            Object fresh = last ? value : path.get(i) instanceof String ? RawDict.dict() : new ArrayList<>();
            if (!(key instanceof String) && !(key instanceof Long)) {
                throw malformed("planner_data's key path of '" + fqn + "' holds a " + typeName(key)
                        + ", not a str or an int");
            }
            if (container instanceof RawDict d) {
                container = last ? d.items.put(key, value) : d.items.computeIfAbsent(key, k -> fresh);
            } else if (container instanceof List<?> raw && key instanceof Long idx) {
                @SuppressWarnings("unchecked")
                List<Object> list = (List<Object>) raw;
                // flatten_state_dict numbers list items from 0 and every item becomes an entry
                if (idx < 0 || idx >= entries) { // safety: dcp-list-index
                    throw CheckpointException.at(Kind.OUT_OF_RANGE, METADATA, -1, "planner_data puts '" + fqn
                            + "' at list index " + idx + ", beyond the " + entries + " entries of the checkpoint");
                }
                while (list.size() <= idx) {
                    list.add(null);
                }
                if (last || list.get(idx.intValue()) == null) {
                    list.set(idx.intValue(), fresh);
                }
                container = list.get(idx.intValue());
            } else {
                throw malformed("planner_data's key path of '" + fqn + "' goes through a " + typeName(container)
                        + " with key " + key);
            }
        }
    }

    private static DType dtype(String fqn, Object properties) throws CheckpointException {
        if (!(properties instanceof RawObject o) || !isClass(o, "TensorProperties")) {
            throw malformed("tensor '" + fqn + "' has properties of a " + typeName(properties)
                    + ", not a TensorProperties");
        }
        // TensorProperties.__getstate__ (torch 2.x): (dtype, layout, requires_grad, memory format, pin_memory);
        // without it (early DCP) the dataclass's field dict
        Object d = o.state instanceof PyTuple t && t.size() > 0 ? t.get(0)
                : o.state instanceof RawDict r ? r.items.get("dtype") : null;
        if (d instanceof PyGlobal g && g.module().equals("torch")) {
            return DType.byPythonName(g.name()).orElseThrow(() -> CheckpointException.at(Kind.UNSUPPORTED, METADATA,
                    -1, "tensor '" + fqn + "' has dtype torch." + g.name() + ", which this version does not read"));
        }
        throw malformed("tensor '" + fqn + "' has no torch dtype in its properties");
    }

    /** The field dict that BUILD gave a dataclass object. */
    private static Map<String, Object> fields(RawObject o, String where, String what) throws CheckpointException {
        if (!(o.state instanceof RawDict d)) {
            throw malformed("a " + what + " (" + where + ") has a state of a " + typeName(o.state)
                    + ", not its field dict");
        }
        Map<String, Object> out = new HashMap<>();
        for (Map.Entry<Object, Object> e : d.items.entrySet()) {
            if (e.getKey() instanceof String k) {
                out.put(k, e.getValue());
            }
        }
        return out;
    }

    private static boolean isClass(RawObject o, String name) {
        return o.callable.module().equals(MODULE) && o.callable.name().equals(name);
    }

    private static Map<Object, Object> dict(Object o, String what) throws CheckpointException {
        if (o instanceof RawDict d) {
            return d.items;
        }
        throw malformed(what + " is a " + typeName(o) + ", not a dict");
    }

    private static List<Object> sequence(Object o, String what) throws CheckpointException {
        if (o instanceof PyTuple t) {
            return t.items();
        } else if (o instanceof List<?> l) {
            return new ArrayList<>(l);
        }
        throw malformed(what + " is a " + typeName(o) + ", not a tuple");
    }

    private static long[] dims(Object o, String what) throws CheckpointException {
        List<Object> items = sequence(o, what);
        long[] out = new long[items.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = integer(items.get(i), what);
            if (out[i] < 0) {
                throw CheckpointException.at(Kind.OUT_OF_RANGE, METADATA, -1, what + " holds " + out[i]);
            }
        }
        return out;
    }

    private static long integer(Object o, String what) throws CheckpointException {
        if (o instanceof Long l) {
            return l;
        }
        throw malformed(what + " is a " + typeName(o) + ", not an int of 64 bits");
    }

    /** {@code Metadata.version}, "1.0.0" since torch 2.4: its major number, 0 where it is absent. */
    private static int major(Object v) {
        if (v instanceof String s) {
            try {
                return Integer.parseInt(s.contains(".") ? s.substring(0, s.indexOf('.')) : s);
            } catch (NumberFormatException e) {
                return 0;
            }
        }
        return 0;
    }

    private static String typeName(Object o) {
        if (o == null) {
            return "None";
        } else if (o instanceof RawObject r) {
            return r.callable.fullName();
        } else if (o instanceof RawDict) {
            return "dict";
        }
        return o.getClass().getSimpleName();
    }

    private static CheckpointException malformed(String detail) {
        return CheckpointException.at(Kind.MALFORMED, METADATA, -1, detail);
    }

    /** Closes every data file opened. */
    @Override
    public void close() throws IOException {
        IOException first = null;
        for (MappedFile f : files.values()) {
            try {
                f.close();
            } catch (IOException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        files.clear();
        if (first != null) {
            throw first;
        }
    }
}
