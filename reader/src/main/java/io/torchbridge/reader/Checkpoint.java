package io.torchbridge.reader;

import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.reader.internal.data.MappedFile;
import io.torchbridge.reader.internal.data.MappedRegion;
import io.torchbridge.reader.internal.pickle.PickleReader;
import io.torchbridge.reader.internal.pickle.StorageRef;
import io.torchbridge.reader.internal.zip.ZipContainer;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;

/**
 * An open PyTorch checkpoint ({@code torch.save} output: a {@code state_dict()}, a training
 * checkpoint, any object tree of tensors and plain values).
 *
 * <pre>{@code
 * try (Checkpoint ckpt = Checkpoint.open(Path.of("model.pth"))) {
 *     Tensor w = ckpt.tensor("fc.weight");
 *     float[] values = w.toFloatArray();
 * }
 * }</pre>
 *
 * <p>Opening reads the archive index and the pickle; tensor data stays in the file, mapped on
 * first use. Nothing in the file is executed: by default only what PyTorch's
 * {@code torch.load(weights_only=True)} accepts is accepted ({@link ReadOptions}). Owns the open
 * file; {@link #close()} releases it. Safe to read from many threads at once.
 */
public final class Checkpoint implements Closeable {
    private static final byte[] ZIP_MAGIC = {'P', 'K', 3, 4};
    private static final byte[] LEGACY_MAGIC = {(byte) 0x80, 0x02, (byte) 0x8a, 0x0a};

    private final MappedFile file;
    private final ZipContainer zip;
    private final Format format;
    private final Object root;
    private final Map<String, Tensor> tensors;
    private final ByteOrder byteOrder;
    private final int version;

    private Checkpoint(MappedFile file, ZipContainer zip, Format format, Object root,
                       Map<String, Tensor> tensors, ByteOrder byteOrder, int version) {
        this.file = file;
        this.zip = zip;
        this.format = format;
        this.root = root;
        this.tensors = Collections.unmodifiableMap(tensors);
        this.byteOrder = byteOrder;
        this.version = version;
    }

    /** Opens {@code path} with the default {@link ReadOptions}. */
    public static Checkpoint open(Path path) throws IOException {
        return open(path, ReadOptions.defaults());
    }

    /**
     * Opens {@code path}.
     *
     * @throws CheckpointException the file is not a checkpoint this reader can read safely; its
     *                             kind and message say why and where
     */
    public static Checkpoint open(Path path, ReadOptions options) throws IOException {
        MappedFile file;
        try {
            file = MappedFile.open(path);
        } catch (IOException e) {
            throw CheckpointException.of(Kind.IO, "cannot open " + path + ": " + e).withCause(e);
        }
        ZipContainer zip = null;
        try {
            Format format = detect(file);
            if (format != Format.ZIP) {
                throw CheckpointException.of(Kind.UNSUPPORTED, "the " + format.label() + " format is not read yet; "
                        + "in Python, re-save it with torch.save(torch.load(path), new_path) to get the zip format");
            }
            zip = ZipContainer.open(file);
            return readZip(file, zip, options, true);
        } catch (CheckpointException | RuntimeException | Error e) {
            closeQuietly(zip);
            closeQuietly(file);
            throw e;
        }
    }

    private static Format detect(MappedFile file) throws IOException {
        if (file.size() < 4) {
            throw CheckpointException.of(Kind.TRUNCATED, "the file has " + file.size()
                    + " bytes; a checkpoint has at least a header (an empty or cut-off download?)");
        }
        byte[] head = file.read(0, 4);
        if (java.util.Arrays.equals(head, ZIP_MAGIC)) {
            return Format.ZIP;
        } else if (java.util.Arrays.equals(head, LEGACY_MAGIC)) {
            return Format.LEGACY;
        }
        throw CheckpointException.at(Kind.MALFORMED, null, 0, String.format(
                "not a PyTorch checkpoint: it starts with %02X %02X %02X %02X, not a zip (PK\\3\\4) "
                        + "or the legacy pickle magic", head[0], head[1], head[2], head[3]));
    }

    /**
     * Reads the archive and unpickles data.pkl with every check the reader makes; with
     * {@code build} false stops there, building no object tree (how {@link Scan} predicts
     * whether torch would load a file whose tree our limits refuse).
     */
    static Checkpoint readZip(MappedFile file, ZipContainer zip, ReadOptions options, boolean build)
            throws IOException {
        if (zip.entry("constants.pkl").isPresent()) {
            throw CheckpointException.of(Kind.UNSUPPORTED, "this is a TorchScript archive (torch.jit.save), "
                    + "which is not read yet; in Python, torch.save(torch.jit.load(path).state_dict(), new_path)");
        }
        int version = version(file, zip);
        ByteOrder order = byteOrder(file, zip);
        ZipContainer.Entry pkl = zip.entry("data.pkl").orElseThrow(() -> CheckpointException.of(Kind.MALFORMED,
                "the archive has no data.pkl record, so it holds no checkpoint (records: " + zip.names() + ")"));
        byte[] pickle = zip.read(file, pkl, options.maxPickleBytes());

        Map<String, StorageRef> storages = new HashMap<>();
        PickleReader reader = new PickleReader(options, "data.pkl", (type, dtype, key, location, numel) -> {
            StorageRef known = storages.get(key);
            long nbytes;
            try {
                nbytes = dtype == null ? numel : Math.multiplyExact(numel, (long) dtype.itemSize());
            } catch (ArithmeticException e) {
                throw CheckpointException.at(Kind.OUT_OF_RANGE, "data/" + key, -1, "storage size overflows");
            }
            if (known != null) {
                if (known.info().nbytes() != nbytes) {
                    throw CheckpointException.at(Kind.MALFORMED, "data/" + key, -1, "storage is named twice with "
                            + "different sizes (" + known.info().nbytes() + " and " + nbytes + " bytes)");
                }
                return known;
            }
            ZipContainer.Entry rec = zip.entry("data/" + key).orElseThrow(() -> CheckpointException.at(
                    Kind.MALFORMED, "data/" + key, -1, "the pickle names storage '" + key
                            + "' but the archive has no record data/" + key));
            if (!rec.stored()) {
                throw CheckpointException.at(Kind.UNSUPPORTED, rec.name(), -1, "storage record is compressed; "
                        + "torch.save stores them uncompressed (re-save the file with torch.save)");
            }
            if (rec.size() != nbytes) {
                throw CheckpointException.at(Kind.MALFORMED, rec.name(), -1, "record has " + rec.size()
                        + " bytes but the pickle declares a " + type + " of " + numel + " elements (" + nbytes
                        + " bytes)");
            }
            MappedRegion region = file.region(rec.dataOffset(), rec.size(), order);
            StorageRef ref = new StorageRef(new StorageInfo(key, type, location, nbytes), dtype, region);
            storages.put(key, ref);
            return ref;
        });
        // Without a tree to build (a scan predicting torch), trailing bytes are allowed as torch allows them.
        Object raw = reader.read(pickle, !build);
        if (!build) {
            reader.refuseUnreadableTensors();
            return null;
        }
        ValueTree tree = new ValueTree(options, "data.pkl");
        Object root = tree.build(raw);
        reader.refuseUnreadableTensors(); // one the tree never reached: PyTorch runs every rebuild
        return new Checkpoint(file, zip, Format.ZIP, root, tree.tensors, order, version);
    }

    private static int version(MappedFile file, ZipContainer zip) throws CheckpointException {
        ZipContainer.Entry e = zip.entry("version").or(() -> zip.entry(".data/version")).orElseThrow(() ->
                CheckpointException.of(Kind.MALFORMED, "the archive has no 'version' record; torch.save always "
                        + "writes one (is this a PyTorch checkpoint?)"));
        String text = new String(zip.read(file, e, 64), StandardCharsets.US_ASCII).trim();
        int v;
        try {
            v = Integer.parseInt(text);
        } catch (NumberFormatException ex) {
            throw CheckpointException.at(Kind.MALFORMED, e.name(), 0, "version is '" + text + "', not a number");
        }
        // caffe2/serialize/versions.h: kMinSupportedFileFormatVersion 1, kMaxSupportedFileFormatVersion 10.
        if (v < 1 || v > 10) {
            throw CheckpointException.at(Kind.UNSUPPORTED, e.name(), 0, "file format version " + v
                    + " is outside 1..10, the range PyTorch reads");
        }
        return v;
    }

    private static ByteOrder byteOrder(MappedFile file, ZipContainer zip) throws CheckpointException {
        var e = zip.entry("byteorder");
        if (e.isEmpty()) {
            return ByteOrder.LITTLE_ENDIAN; // before 2.1 there was no record; PyTorch assumes little
        }
        String text = new String(zip.read(file, e.get(), 16), StandardCharsets.US_ASCII).trim();
        return switch (text) {
            case "little" -> ByteOrder.LITTLE_ENDIAN;
            case "big" -> ByteOrder.BIG_ENDIAN;
            default -> throw CheckpointException.at(Kind.MALFORMED, "byteorder", 0,
                    "byteorder is '" + text + "', not 'little' or 'big'");
        };
    }

    /** The container format. */
    public Format format() {
        return format;
    }

    /** The top folder of the archive (torch.save names it after the file). */
    public String archiveName() {
        return zip.archiveName();
    }

    /** The archive's record names, in the archive's order. */
    public List<String> records() {
        return zip.names();
    }

    /** The value of the {@code version} record. */
    public int formatVersion() {
        return version;
    }

    /** The byte order of the stored tensor data. */
    public ByteOrder byteOrder() {
        return byteOrder;
    }

    /**
     * The saved object: {@link PyDict}, {@link List}, {@link PyTuple}, {@link String}, {@link Long}
     * or {@link java.math.BigInteger}, {@link Double}, {@link Boolean}, {@code null} (None),
     * {@code byte[]}, {@link PyComplex}, {@link java.util.Set}, {@link PyGlobal},
     * {@link PyObject}, and {@link Tensor}.
     */
    public Object root() {
        return root;
    }

    /** Every tensor by name, in the order the saved object reaches them (a shared one under each name). */
    public Map<String, Tensor> tensors() {
        return tensors;
    }

    /** The tensor names, in order. */
    public List<String> names() {
        return new ArrayList<>(tensors.keySet());
    }

    /** The tensor called {@code name} ({@code fc.weight}, {@code optimizer.state.0.exp_avg}). */
    public Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new NoSuchElementException("no tensor '" + name + "' in " + file.path() + hint(name));
        }
        return t;
    }

    /** Any value by its path ({@code epoch}, {@code optimizer.param_groups.0.lr}); "" is the root. */
    public Object value(String path) {
        Object v = ValueTree.lookup(root, path);
        if (v == ValueTree.ABSENT) {
            throw new NoSuchElementException("no value '" + path + "' in " + file.path() + hint(path));
        }
        return v;
    }

    /** Whether {@link #value(String)} has {@code path}. */
    public boolean has(String path) {
        return ValueTree.lookup(root, path) != ValueTree.ABSENT;
    }

    private String hint(String name) {
        List<String> close = new ArrayList<>();
        String tail = name.contains(".") ? name.substring(name.lastIndexOf('.') + 1) : name;
        for (String n : tensors.keySet()) {
            if (n.endsWith("." + tail) || n.endsWith(name) || name.endsWith(n)) {
                close.add(n);
            }
            if (close.size() == 5) {
                break;
            }
        }
        return close.isEmpty() ? "" : "; similar names: " + close;
    }

    /** Closes the file. Tensors of this checkpoint then refuse new data access. */
    @Override
    public void close() throws IOException {
        try {
            zip.close();
        } finally {
            file.close();
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        if (c != null) {
            try {
                c.close();
            } catch (Exception ignored) {
                // the open already failed; its exception is what the caller needs
            }
        }
    }
}
