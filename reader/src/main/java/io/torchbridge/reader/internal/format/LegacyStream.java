package io.torchbridge.reader.internal.format;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.reader.DType;
import io.torchbridge.reader.Format;
import io.torchbridge.reader.ReadOptions;
import io.torchbridge.reader.StorageInfo;
import io.torchbridge.reader.internal.Checked;
import io.torchbridge.reader.internal.data.MappedFile;
import io.torchbridge.reader.internal.data.MappedRegion;
import io.torchbridge.reader.internal.pickle.PickleReader;
import io.torchbridge.reader.internal.pickle.RawDict;
import io.torchbridge.reader.internal.pickle.StorageRef;
import io.torchbridge.reader.internal.pickle.StorageResolver;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The legacy stream {@code torch.save} writes with {@code _use_new_zipfile_serialization=False}
 * (and every torch before 1.6 wrote): five pickles one after another (the magic number, the
 * protocol version 1001, sys_info, the object, the list of storage keys), then per listed key an
 * int64 element count and the storage's raw bytes (torch/serialization.py, {@code _legacy_save}
 * and {@code _legacy_load}). Nothing says where a pickle ends but its STOP, so each is walked to
 * find it; the storages are mapped where they lie, zero-copy.
 *
 * <p>The storages' byte order is little-endian whatever sys_info says: torch's reader ignores
 * sys_info and decodes storages as little-endian ({@code THPStorage_readFileRaw}).
 */
public final class LegacyStream implements CheckpointFormat {
    /** {@code MAGIC_NUMBER} of torch/serialization.py. */
    static final BigInteger MAGIC = new BigInteger("1950a86a20f9469cfc6c", 16);
    /** {@code PROTOCOL_VERSION} of torch/serialization.py. */
    static final long PROTOCOL_VERSION = 1001;
    /** The part names, which are the stream's "records" ({@link io.torchbridge.reader.Checkpoint#records()}). */
    public static final List<String> PARTS = List.of("magic_number", "protocol_version", "sys_info", "pickle",
            "storage_keys", "storages");
    /** The first three pickles are tiny; a longer one is not a legacy header. */
    private static final int HEADER_LIMIT = 1 << 16;

    private final MappedFile file;

    /** One pickle of the stream: its part name and where its bytes lie. */
    public record Part(String name, long offset, byte[] bytes) {
    }

    /** Reads {@code file}, which stays the caller's to close. */
    public LegacyStream(MappedFile file) {
        this.file = file;
    }

    /**
     * Whether {@code file} starts with a pickle of torch's legacy magic number, in any pickle
     * protocol (0-1 write it as text, {@code L...L}; 2-3 as LONG1; 4-5 inside a FRAME).
     */
    public static boolean matches(MappedFile file) {
        try {
            byte[] head = file.read(0, (int) Math.min(file.size(), 64));
            int n = PickleReader.pickleLength(head);
            if (n < 0 && head.length == file.size()) {
                // A file cut off inside the magic pickle: legacy by its opening (PROTO 2..5, then
                // LONG1 of 10 bytes, or a FRAME), so that the read says TRUNCATED, not "unknown".
                return head.length >= 3 && (head[0] & 0xFF) == 0x80 && head[1] >= 2 && head[1] <= 5
                        && ((head[2] & 0xFF) == 0x8a || (head[2] & 0xFF) == 0x95);
            }
            if (n <= 0) {
                return false;
            }
            Object v = new PickleReader(ReadOptions.defaults(), PARTS.get(0), LegacyStream::noStorages)
                    .read(java.util.Arrays.copyOf(head, n));
            return MAGIC.equals(v);
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /**
     * The stream's five pickles, found without unpickling the object (for a scan, which must walk
     * each separately: each ends with a STOP, which is no "bytes after STOP"). A pickle that runs
     * to the end of the file is returned as far as it goes.
     */
    public List<Part> pickles(long maxPickleBytes) throws CheckpointException {
        List<Part> out = new ArrayList<>();
        long pos = 0;
        for (int i = 0; i < 5 && pos < file.size(); i++) {
            Part p = next(pos, PARTS.get(i), i == 3 || i == 4 ? maxPickleBytes : HEADER_LIMIT, true);
            out.add(p);
            pos += p.bytes().length;
        }
        return out;
    }

    @Override
    public Unpickled unpickle(ReadOptions options, boolean allowTrailing) throws CheckpointException {
        long pos = 0;
        Part magic = next(pos, PARTS.get(0), HEADER_LIMIT, false);
        Object m = plain(options, magic);
        if (!MAGIC.equals(m)) { // safety: legacy-magic
            throw CheckpointException.at(Kind.MALFORMED, magic.name(), 0, "the first pickle holds " + m
                    + ", not torch's magic number 0x1950a86a20f9469cfc6c");
        }
        pos += magic.bytes().length;
        Part version = next(pos, PARTS.get(1), HEADER_LIMIT, false);
        Object v = plain(options, version);
        if (!Long.valueOf(PROTOCOL_VERSION).equals(v)) { // safety: legacy-protocol-version
            throw CheckpointException.at(Kind.UNSUPPORTED, version.name(), 0, "protocol version " + v
                    + "; torch reads only 1001 (torch/serialization.py, _legacy_load)");
        }
        pos += version.bytes().length;
        Part sysInfo = next(pos, PARTS.get(2), HEADER_LIMIT, false);
        if (!(plain(options, sysInfo) instanceof RawDict)) { // safety: legacy-sys-info
            throw CheckpointException.at(Kind.MALFORMED, sysInfo.name(), 0, "sys_info is not a dict");
        }
        pos += sysInfo.bytes().length;
        Part object = next(pos, PARTS.get(3), options.maxPickleBytes(), false);
        pos += object.bytes().length;
        Part keyPart = next(pos, PARTS.get(4), options.maxPickleBytes(), false);
        pos += keyPart.bytes().length;
        List<String> keys = keys(options, keyPart);

        // The storages' sizes come from the object pickle (its persistent ids name each key's
        // type and element count), so a first pass collects them and lays the storages out; the
        // second builds the object over the mapped storages. Both run the same checks.
        Map<String, Declared> declared = new LinkedHashMap<>();
        new PickleReader(options, object.name(), new Views() {
            @Override
            public StorageRef resolve(String type, DType dtype, String key, String location, long numel)
                    throws CheckpointException {
                Declared d = declare(declared, type, dtype, key, location, numel);
                return new StorageRef(new StorageInfo(key, type, location, d.nbytes), dtype, null, null);
            }
        }).read(object.bytes());
        Map<String, StorageRef> storages = layout(declared, keys, pos, allowTrailing);

        PickleReader reader = new PickleReader(options, object.name(), new Views() {
            @Override
            public StorageRef resolve(String type, DType dtype, String key, String location, long numel) {
                return storages.get(key);
            }
        });
        Object root = reader.read(object.bytes());
        return new Unpickled(Format.LEGACY, root, (int) PROTOCOL_VERSION, ByteOrder.LITTLE_ENDIAN,
                reader.unreadableTensor());
    }

    /**
     * Storage views (view_metadata): the first view of a key defines it, as torch caches it; its
     * elements must lie inside the root storage.
     */
    private abstract class Views implements StorageResolver {
        private final Map<String, StorageRef> views = new HashMap<>();

        @Override
        public StorageRef view(StorageRef root, String viewKey, long offset, long size) throws CheckpointException {
            StorageRef known = views.get(viewKey);
            if (known != null) {
                return known;
            }
            long item = root.dtype() == null ? 1 : root.dtype().itemSize();
            long from = Checked.multiply(offset, item, PARTS.get(3), "storage view offset");
            long len = Checked.multiply(size, item, PARTS.get(3), "storage view size");
            if (!Checked.fits(from, len, root.info().nbytes())) { // safety: legacy-view-bounds
                throw CheckpointException.of(Kind.OUT_OF_RANGE, "storage view '" + viewKey + "' takes elements ["
                        + offset + ", +" + size + ") of storage '" + root.info().key() + "', which has "
                        + root.info().nbytes() / item);
            }
            MappedRegion region = root.region() == null ? null
                    : file.region(root.region().offset() + from, len, ByteOrder.LITTLE_ENDIAN);
            StorageRef v = new StorageRef(new StorageInfo(viewKey, root.info().type(), root.info().location(), len),
                    root.dtype(), region, null);
            views.put(viewKey, v);
            return v;
        }
    }

    /** What the object pickle declares about one storage key. */
    private record Declared(String type, DType dtype, String location, long nbytes, long itemSize) {
    }

    /** A key named again must name the same size (torch would read a second, different-sized one wrongly). */
    private static Declared declare(Map<String, Declared> declared, String type, DType dtype, String key,
                                    String location, long numel) throws CheckpointException {
        long item = dtype == null ? 1 : dtype.itemSize();
        long nbytes = Checked.multiply(numel, item, "storage " + key, "storage size");
        Declared known = declared.get(key);
        if (known != null) {
            if (known.nbytes() != nbytes) { // safety: legacy-storage-named-twice-same-size
                throw CheckpointException.at(Kind.MALFORMED, PARTS.get(3), -1, "storage '" + key + "' is named "
                        + "twice with different sizes (" + known.nbytes() + " and " + nbytes + " bytes)");
            }
            return known;
        }
        Declared d = new Declared(type, dtype, location, nbytes, item);
        declared.put(key, d);
        return d;
    }

    /**
     * Walks the storage section that starts at {@code pos}: per listed key, an int64 element count
     * and the bytes, in the list's order (torch reads them so). The list must name exactly the
     * keys the pickle names, each once, each count must be the pickle's, and the section must end
     * exactly at the end of the file (unless {@code allowTrailing}: torch stops reading there).
     */
    private Map<String, StorageRef> layout(Map<String, Declared> declared, List<String> keys, long pos,
                                           boolean allowTrailing) throws CheckpointException {
        Set<String> seen = new HashSet<>();
        for (String k : keys) {
            boolean first = seen.add(k);
            if (!first) { // safety: legacy-key-duplicate
                throw CheckpointException.at(Kind.MALFORMED, PARTS.get(4), -1, "storage key '" + k
                        + "' is listed twice; torch.save lists each storage once");
            }
            if (!declared.containsKey(k)) { // safety: legacy-key-unknown
                throw CheckpointException.at(Kind.MALFORMED, PARTS.get(4), -1, "storage key '" + k
                        + "' is listed but the pickle names no such storage (torch refuses it too)");
            }
        }
        for (String k : declared.keySet()) {
            if (!seen.contains(k)) { // safety: legacy-key-missing
                throw CheckpointException.at(Kind.MALFORMED, PARTS.get(4), -1, "the pickle names storage '" + k
                        + "' but the key list does not list it, so the file holds no bytes for it (torch would "
                        + "leave that memory uninitialized)");
            }
        }
        Map<String, StorageRef> out = new HashMap<>(keys.size() * 4 / 3 + 4);
        for (String k : keys) {
            Declared d = declared.get(k);
            if (!Checked.fits(pos, 8, file.size())) { // safety: legacy-count-past-end
                throw CheckpointException.at(Kind.TRUNCATED, null, pos, "storage '" + k + "': the file ends before "
                        + "its element count (" + (file.size() - pos) + " bytes left, 8 needed)");
            }
            long count = count(pos);
            long nbytes = count < 0 ? -1 : Checked.multiply(count, d.itemSize(), "storage " + k, "storage size");
            if (nbytes != d.nbytes()) { // safety: legacy-count-matches-pickle
                throw CheckpointException.at(Kind.MALFORMED, null, pos, "storage '" + k + "' holds " + count
                        + " elements but the pickle declares a " + d.type() + " of " + d.nbytes() / d.itemSize()
                        + " elements (torch refuses it: storage has wrong byte size)");
            }
            long data = pos + 8;
            if (!Checked.fits(data, nbytes, file.size())) { // safety: legacy-storage-past-end
                throw CheckpointException.at(Kind.TRUNCATED, null, data, "storage '" + k + "' has " + nbytes
                        + " bytes but only " + (file.size() - data) + " remain in the file");
            }
            MappedRegion region = file.region(data, nbytes, ByteOrder.LITTLE_ENDIAN);
            out.put(k, new StorageRef(new StorageInfo(k, d.type(), d.location(), nbytes), d.dtype(), region, null));
            pos = data + nbytes;
        }
        if (!allowTrailing && pos != file.size()) { // safety: legacy-trailing-bytes
            throw CheckpointException.at(Kind.MALFORMED, null, pos, (file.size() - pos) + " bytes follow the last "
                    + "storage; torch.save writes none (a file appended to, or two files joined?)");
        }
        return out;
    }

    /** A window of the storage section, so that many small storages cost a read per 64 KiB, not one each. */
    private ByteBuffer counts = ByteBuffer.allocate(0);
    private long countsAt;

    private long count(long pos) throws CheckpointException {
        if (pos < countsAt || pos + 8 > countsAt + counts.capacity()) {
            try {
                countsAt = pos;
                // _write_file writes the count little-endian (torch/csrc/generic/serialization.cpp)
                counts = ByteBuffer.wrap(file.read(pos, (int) Math.min(file.size() - pos, 1 << 16)))
                        .order(ByteOrder.LITTLE_ENDIAN);
            } catch (IOException e) {
                throw CheckpointException.at(Kind.IO, null, pos, "cannot read: " + e).withCause(e);
            }
        }
        return counts.getLong((int) (pos - countsAt));
    }

    /** The sorted key list torch writes after the object: a list of str (an int key is taken as its digits). */
    private static List<String> keys(ReadOptions options, Part part) throws CheckpointException {
        Object v = plain(options, part);
        if (!(v instanceof List<?>)) { // safety: legacy-key-list-type
            throw CheckpointException.at(Kind.MALFORMED, part.name(), 0, "the storage key list is a "
                    + (v == null ? "None" : v.getClass().getSimpleName()) + ", not a list");
        }
        List<?> list = (List<?>) v;
        List<String> keys = new ArrayList<>(list.size());
        for (Object k : list) {
            if (k instanceof String s) {
                keys.add(s);
            } else if (k instanceof Long || k instanceof BigInteger) {
                keys.add(k.toString());
            } else {
                throw CheckpointException.at(Kind.MALFORMED, part.name(), 0, "a storage key is not a str");
            }
        }
        return keys;
    }

    /** A pickle that holds plain data only: a persistent id in it is an error. */
    static Object plain(ReadOptions options, Part part) throws CheckpointException {
        return new PickleReader(options, part.name(), LegacyStream::noStorages).read(part.bytes());
    }

    private static StorageRef noStorages(String type, DType dtype, String key, String location, long numel)
            throws CheckpointException {
        throw CheckpointException.of(Kind.MALFORMED, "a storage is named outside the object pickle");
    }

    private Part next(long pos, String name, long max, boolean lenient) throws CheckpointException {
        return nextPickle(file, pos, file.size(), name, max, lenient);
    }

    /**
     * The pickle that starts at {@code pos} and must end by {@code end}: its bytes up to and
     * including its STOP. Read in growing windows, so that a pickle followed by gigabytes of
     * storages costs only the pickle; longer than {@code max} is LIMIT_EXCEEDED; reaching
     * {@code end} first is TRUNCATED (or, when {@code lenient}, gives the bytes up to there).
     */
    static Part nextPickle(MappedFile file, long pos, long end, String name, long max, boolean lenient)
            throws CheckpointException {
        long left = end - pos;
        long window = Math.min(left, 4096);
        while (true) {
            byte[] b;
            try {
                b = file.read(pos, (int) window);
            } catch (IOException e) {
                throw CheckpointException.at(Kind.IO, name, 0, "cannot read: " + e).withCause(e);
            }
            int n = PickleReader.pickleLength(b);
            if (n >= 0) {
                return new Part(name, pos, n == b.length ? b : java.util.Arrays.copyOf(b, n));
            }
            if (window == left) {
                if (lenient) {
                    return new Part(name, pos, b);
                }
                throw CheckpointException.at(Kind.TRUNCATED, name, b.length, "the data ends inside the "
                        + name + " pickle (no STOP)");
            }
            if (window >= max) { // safety: legacy-pickle-limit
                throw CheckpointException.at(Kind.LIMIT_EXCEEDED, name, 0, "the " + name + " pickle is longer than "
                        + max + " bytes (ReadOptions.maxPickleBytes)");
            }
            // Up to max first: a pickle of max bytes is found, one byte more is refused above.
            long next = Math.min(left, Math.min(window * 4, Integer.MAX_VALUE - 8));
            window = window < max ? Math.min(next, max) : next;
        }
    }
}
