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
import io.torchbridge.reader.internal.data.MappedFile;
import io.torchbridge.reader.internal.data.MappedRegion;
import io.torchbridge.reader.internal.pickle.PickleReader;
import io.torchbridge.reader.internal.pickle.StorageRef;
import io.torchbridge.reader.internal.pickle.TensorRef;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.apache.commons.compress.archivers.tar.TarFile;

/**
 * The tar archive torch wrote before 0.1.10, which torch still reads (only with
 * {@code weights_only=False}): members {@code storages} (a count, then per storage a pickled
 * {@code (key, location, storage_type)}, an int64 element count and the bytes, then a pickled
 * list of storage views), {@code tensors} (a count, then per tensor a pickled
 * {@code (key, storage_key, tensor_type)}, an int32 ndim, 4 bytes of padding, ndim int64 sizes,
 * ndim int64 strides and an int64 storage offset, all little-endian) and {@code pickle}, whose
 * persistent ids are the keys, as strings, of those tensors and storages (torch/serialization.py,
 * {@code _legacy_load.legacy_load}). {@code sys_info} is written but not read. Nothing is
 * extracted: every member's data is mapped where it lies in the archive.
 */
public final class LegacyTar implements CheckpointFormat {
    private final MappedFile file;
    private final Map<String, Member> members;

    /** One member's data in the file. */
    record Member(String name, long offset, long size) {
        long end() {
            return offset + size; // cannot overflow: checked against the file's size on open
        }
    }

    private LegacyTar(MappedFile file, Map<String, Member> members) {
        this.file = file;
        this.members = members;
    }

    /**
     * Whether {@code file} starts with a tar header block whose checksum holds (what Python's
     * {@code tarfile}, and so torch, takes for a tar).
     */
    public static boolean matches(MappedFile file) {
        try {
            if (file.size() < 512) {
                return false;
            }
            byte[] h = file.read(0, 512);
            if (h[0] == 0) {
                return false;
            }
            long declared = octal(h, 148, 8);
            long sum = 0;
            for (int i = 0; i < 512; i++) {
                sum += i >= 148 && i < 156 ? ' ' : h[i] & 0xFF;
            }
            return declared == sum;
        } catch (IOException | NumberFormatException e) {
            return false;
        }
    }

    private static long octal(byte[] b, int from, int len) {
        String s = new String(b, from, len, java.nio.charset.StandardCharsets.US_ASCII);
        int nul = s.indexOf('\0');
        s = (nul >= 0 ? s.substring(0, nul) : s).trim();
        return Long.parseLong(s, 8);
    }

    /** Reads the archive's index (its headers); the member data stays in the file, unread. */
    public static LegacyTar open(MappedFile file) throws CheckpointException {
        Map<String, Member> members = new LinkedHashMap<>();
        try (SeekableByteChannel ch = Files.newByteChannel(file.path()); TarFile tar = new TarFile(ch)) {
            for (TarArchiveEntry e : tar.getEntries()) {
                String name = e.getName();
                if (members.containsKey(name)) { // safety: tar-member-duplicate
                    throw CheckpointException.at(Kind.MALFORMED, name, -1, "the tar has two members named '" + name
                            + "'; torch reads the last, other tools the first (a crafted archive)");
                }
                // isFile() is true for symbolic and hard links too: the type flag says what it is
                byte type = e.getLinkFlag();
                if ((type != TarConstants.LF_NORMAL && type != TarConstants.LF_OLDNORM) || e.isSparse()) { // safety: tar-member-regular
                    throw CheckpointException.at(Kind.UNSUPPORTED, name, -1, "member '" + name + "' is not a "
                            + "regular file but type '" + (char) type + "' (a link or device; torch writes only files)");
                }
                long offset = e.getDataOffset();
                long size = e.getSize();
                // Commons Compress refuses a member cut off by the end of the file first ("Truncated
                // TAR archive", below); checked again so that no region is ever mapped past the end.
                if (offset < 0 || size < 0 || !Checked.fits(offset, size, file.size())) {
                    throw CheckpointException.at(Kind.TRUNCATED, name, -1, "member '" + name + "' has " + size
                            + " bytes at offset " + offset + " but the file has " + file.size());
                }
                members.put(name, new Member(name, offset, size));
            }
        } catch (CheckpointException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            // Commons Compress has no error kinds; a cut-off archive is the one its message names.
            boolean cut = e instanceof java.io.EOFException || String.valueOf(e.getMessage()).startsWith("Truncated");
            throw CheckpointException.of(cut ? Kind.TRUNCATED : Kind.MALFORMED, "not a readable tar archive: "
                    + e.getMessage()).withCause(e);
        }
        return new LegacyTar(file, members);
    }

    /** The member names, in the archive's order. */
    public List<String> members() {
        return List.copyOf(members.keySet());
    }

    /**
     * Every pickle in the members torch reads, for a scan: the storages' and tensors' metadata
     * pickles (torch unpickles them too, with any global they name) and the object. The metadata
     * pickles are read inertly to find the binary data between them; a member that does not parse
     * gives its pickles up to there.
     */
    public List<LegacyStream.Part> pickles(long maxPickleBytes) throws CheckpointException {
        List<LegacyStream.Part> out = new ArrayList<>();
        ReadOptions inert = ReadOptions.builder().inert(true).maxPickleBytes(maxPickleBytes).build();
        Map<String, Object> objects = new HashMap<>();
        try {
            if (members.containsKey("storages")) {
                storages(inert, members.get("storages"), objects, out);
            }
            if (members.containsKey("tensors")) {
                tensors(inert, members.get("tensors"), objects, out);
            }
        } catch (CheckpointException e) {
            // the pickles found so far are what can be scanned; the read reports the error
        }
        Member p = members.get("pickle");
        if (p != null) {
            out.add(LegacyStream.nextPickle(file, p.offset(), p.end(), "pickle", maxPickleBytes, true));
        }
        return out;
    }

    @Override
    public Unpickled unpickle(ReadOptions options, boolean allowTrailing) throws CheckpointException {
        Map<String, Object> objects = new HashMap<>();
        storages(options, member("storages"), objects, null);
        tensors(options, member("tensors"), objects, null);
        Member p = member("pickle");
        if (p.size() > options.maxPickleBytes()) { // safety: tar-pickle-limit
            throw CheckpointException.at(Kind.LIMIT_EXCEEDED, "pickle", 0, "the pickle member has " + p.size()
                    + " bytes, more than ReadOptions.maxPickleBytes " + options.maxPickleBytes());
        }
        byte[] bytes = read(p.offset(), (int) p.size(), "pickle");
        PickleReader reader = new PickleReader(options, "pickle", new io.torchbridge.reader.internal.pickle
                .StorageResolver() {
            @Override
            public StorageRef resolve(String type, DType dtype, String key, String location, long numel)
                    throws CheckpointException {
                throw CheckpointException.of(Kind.MALFORMED, "a ('storage', ...) persistent id in a tar's pickle; "
                        + "the tar names tensors and storages by their keys");
            }

            @Override
            public Object other(Object pid) throws CheckpointException {
                return lookup(objects, pid);
            }
        });
        Object root = reader.read(bytes, allowTrailing);
        return new Unpickled(Format.TAR, root, 0, ByteOrder.LITTLE_ENDIAN, reader.unreadableTensor());
    }

    /**
     * torch's persistent_load: a tuple is a module class with its source ({@code (cls, file,
     * source)}), which it returns as is; anything else is {@code int(pid)}, the key of a tensor or
     * storage.
     */
    private static Object lookup(Map<String, Object> objects, Object pid) throws CheckpointException {
        if (pid instanceof PyTuple t && t.size() > 0) {
            return t.get(0);
        }
        String key = pid instanceof String s ? s.strip() : pid instanceof Long || pid instanceof BigInteger
                ? pid.toString() : null;
        Object o = key == null ? null : objects.get(canonical(key));
        if (o == null) { // safety: tar-unknown-key
            throw CheckpointException.of(Kind.MALFORMED, "the pickle names key " + pid
                    + ", which neither the tensors nor the storages member has");
        }
        return o;
    }

    /** Keys are ints in torch's table; "007" and "7" name the same one. */
    private static String canonical(String key) {
        try {
            return new BigInteger(key).toString();
        } catch (NumberFormatException e) {
            return key;
        }
    }

    private Member member(String name) throws CheckpointException {
        Member m = members.get(name);
        if (m == null) { // safety: tar-member-missing
            throw CheckpointException.of(Kind.MALFORMED, "the tar has no '" + name + "' member (members: "
                    + members.keySet() + "); a legacy torch tar has sys_info, pickle, storages and tensors");
        }
        return m;
    }

    /** Reads the storages member into {@code objects}; each pickle read goes to {@code seen} too, if given. */
    private void storages(ReadOptions options, Member m, Map<String, Object> objects, List<LegacyStream.Part> seen)
            throws CheckpointException {
        long pos = m.offset();
        LegacyStream.Part countPart = pickle(pos, m, "storages", options, seen);
        long count = nonNegativeCount(LegacyStream.plain(options, countPart), "storages", countPart.offset() - m.offset());
        pos += countPart.bytes().length;
        // Each storage takes at least its 8-byte element count: a count beyond that is a lie.
        if (count > (m.end() - pos) / 8) { // safety: tar-storage-count
            throw CheckpointException.at(Kind.MALFORMED, "storages", 0, "declares " + count + " storages but "
                    + "has room for at most " + (m.end() - pos) / 8);
        }
        for (long i = 0; i < count; i++) {
            LegacyStream.Part argsPart = pickle(pos, m, "storages", options, seen);
            long rel = pos - m.offset();
            Object args = LegacyStream.plain(options, argsPart);
            pos += argsPart.bytes().length;
            boolean described = args instanceof PyTuple a && a.size() == 3 && a.get(1) instanceof String
                    && a.get(2) instanceof PyGlobal;
            if (!described) { // safety: tar-storage-args
                throw CheckpointException.at(Kind.MALFORMED, "storages", rel, "storage " + i
                        + " is not described by (key, location, storage_type)");
            }
            PyTuple t = (PyTuple) args;
            String location = (String) t.get(1);
            PyGlobal type = (PyGlobal) t.get(2);
            String key = key(t.get(0), "storages", rel);
            DType dtype = DType.byStorageName(type.name()).orElseThrow(() -> CheckpointException.at(
                    Kind.UNSUPPORTED, "storages", rel, "unknown storage class " + type.fullName()));
            if (!Checked.fits(pos, 8, m.end())) {
                throw CheckpointException.at(Kind.TRUNCATED, "storages", pos - m.offset(), "storage '" + key
                        + "': the member ends before its element count");
            }
            long numel = int64(pos, "storages");
            long nbytes = numel < 0 ? -1 : Checked.multiply(numel, dtype.itemSize(), "storages", "storage size");
            pos += 8;
            if (nbytes < 0 || !Checked.fits(pos, nbytes, m.end())) { // safety: tar-storage-bounds
                throw CheckpointException.at(Kind.TRUNCATED, "storages", pos - m.offset(), "storage '" + key
                        + "' declares " + numel + " elements but only " + (m.end() - pos) + " bytes remain in "
                        + "the member");
            }
            MappedRegion region = file.region(pos, nbytes, ByteOrder.LITTLE_ENDIAN);
            put(objects, key, new StorageRef(new StorageInfo(key, type.name(), location, nbytes), dtype, region, null),
                    "storages", rel);
            pos += nbytes;
        }
        LegacyStream.Part viewsPart = pickle(pos, m, "storages", options, seen);
        long viewsAt = pos - m.offset();
        Object views = LegacyStream.plain(options, viewsPart);
        pos += viewsPart.bytes().length;
        if (!(views instanceof List<?>)) { // safety: tar-views-list
            throw CheckpointException.at(Kind.MALFORMED, "storages", viewsAt, "the storage views are not a list");
        }
        List<?> list = (List<?>) views;
        for (Object v : list) {
            // (target key, root key, offset, numel), in elements of the root's dtype
            if (!(v instanceof PyTuple t) || t.size() != 4 || !(t.get(2) instanceof Long offset)
                    || !(t.get(3) instanceof Long numel)) {
                throw CheckpointException.at(Kind.MALFORMED, "storages", viewsAt,
                        "a storage view is not (key, root_key, offset, numel)");
            }
            String target = key(t.get(0), "storages", viewsAt);
            Object rootObject = objects.get(key(t.get(1), "storages", viewsAt));
            if (!(rootObject instanceof StorageRef)) { // safety: tar-view-root
                throw CheckpointException.at(Kind.MALFORMED, "storages", viewsAt, "storage view '" + target
                        + "' names root " + t.get(1) + ", which is no storage of the member");
            }
            StorageRef root = (StorageRef) rootObject;
            long item = root.dtype().itemSize();
            long from = offset < 0 ? -1 : Checked.multiply(offset, item, "storages", "view offset");
            long len = numel < 0 ? -1 : Checked.multiply(numel, item, "storages", "view size");
            if (from < 0 || len < 0 || !Checked.fits(from, len, root.info().nbytes())) { // safety: tar-view-bounds
                throw CheckpointException.at(Kind.OUT_OF_RANGE, "storages", viewsAt, "storage view '" + target
                        + "' takes elements [" + offset + ", +" + numel + ") of storage '" + root.info().key()
                        + "', which has " + root.info().nbytes() / item);
            }
            MappedRegion region = file.region(root.region().offset() + from, len, ByteOrder.LITTLE_ENDIAN);
            put(objects, target, new StorageRef(new StorageInfo(target, root.info().type(), root.info().location(),
                    len), root.dtype(), region, null), "storages", viewsAt);
        }
        if (pos != m.end()) { // safety: tar-storages-trailing
            throw CheckpointException.at(Kind.MALFORMED, "storages", pos - m.offset(), (m.end() - pos)
                    + " bytes follow the storage views; torch writes none");
        }
    }

    private void tensors(ReadOptions options, Member m, Map<String, Object> objects, List<LegacyStream.Part> seen)
            throws CheckpointException {
        long pos = m.offset();
        LegacyStream.Part countPart = pickle(pos, m, "tensors", options, seen);
        long count = nonNegativeCount(LegacyStream.plain(options, countPart), "tensors", 0);
        pos += countPart.bytes().length;
        // Each tensor takes at least 16 bytes (ndim, padding, storage offset) after its pickle.
        if (count > (m.end() - pos) / 16) { // safety: tar-tensor-count
            throw CheckpointException.at(Kind.MALFORMED, "tensors", 0, "declares " + count + " tensors but "
                    + "has room for at most " + (m.end() - pos) / 16);
        }
        for (long i = 0; i < count; i++) {
            long rel = pos - m.offset();
            LegacyStream.Part argsPart = pickle(pos, m, "tensors", options, seen);
            Object args = LegacyStream.plain(options, argsPart);
            pos += argsPart.bytes().length;
            if (!(args instanceof PyTuple a && a.size() == 3)) { // safety: tar-tensor-args
                throw CheckpointException.at(Kind.MALFORMED, "tensors", rel, "tensor " + i
                        + " is not described by (key, storage_key, tensor_type)");
            }
            PyTuple t = (PyTuple) args;
            String key = key(t.get(0), "tensors", rel);
            Object s = t.get(1) == null ? null : objects.get(key(t.get(1), "tensors", rel));
            if (!(s instanceof StorageRef)) { // safety: tar-tensor-storage
                throw CheckpointException.at(Kind.MALFORMED, "tensors", rel, "tensor '" + key + "' names storage "
                        + t.get(1) + ", which the storages member does not have");
            }
            StorageRef storage = (StorageRef) s;
            if (!Checked.fits(pos, 8, m.end())) {
                throw CheckpointException.at(Kind.TRUNCATED, "tensors", pos - m.offset(), "tensor '" + key
                        + "': the member ends before its ndim");
            }
            long ndim = ByteBuffer.wrap(read(pos, 4, "tensors")).order(ByteOrder.LITTLE_ENDIAN).getInt();
            pos += 8; // an int32 and 4 bytes of padding: the old encoding's 8-byte ndim
            long metaBytes = ndim < 0 ? -1 : Checked.add(Checked.multiply(ndim, 16, "tensors", "ndim"), 8,
                    "tensors", "ndim");
            if (metaBytes < 0 || !Checked.fits(pos, metaBytes, m.end())) { // safety: tar-tensor-ndim
                throw CheckpointException.at(Kind.MALFORMED, "tensors", pos - 8 - m.offset(), "tensor '" + key
                        + "' has " + ndim + " dimensions, which do not fit the " + (m.end() - pos)
                        + " bytes left in the member");
            }
            ByteBuffer b = ByteBuffer.wrap(read(pos, (int) metaBytes, "tensors")).order(ByteOrder.LITTLE_ENDIAN);
            long[] shape = new long[(int) ndim];
            long[] stride = new long[(int) ndim];
            for (int d = 0; d < ndim; d++) {
                shape[d] = b.getLong();
            }
            for (int d = 0; d < ndim; d++) {
                stride[d] = b.getLong();
            }
            long offset = b.getLong();
            pos += metaBytes;
            put(objects, key, new TensorRef(storage, offset, shape, stride), "tensors", rel);
        }
        if (pos != m.end()) { // safety: tar-tensors-trailing
            throw CheckpointException.at(Kind.MALFORMED, "tensors", pos - m.offset(), (m.end() - pos)
                    + " bytes follow the last tensor; torch writes none");
        }
    }

    /** The pickle at {@code pos} inside member {@code m}, named by the member (offsets: from its start). */
    private LegacyStream.Part pickle(long pos, Member m, String name, ReadOptions options,
                                     List<LegacyStream.Part> seen) throws CheckpointException {
        LegacyStream.Part p = LegacyStream.nextPickle(file, pos, m.end(), name, options.maxPickleBytes(), false);
        if (seen != null) {
            seen.add(p);
        }
        return p;
    }

    /** One table of keys, as torch's deserialized_objects: a key given twice is refused. */
    private static void put(Map<String, Object> objects, String key, Object o, String record, long rel)
            throws CheckpointException {
        Object before = objects.putIfAbsent(key, o);
        if (before != null) { // safety: tar-key-duplicate
            throw CheckpointException.at(Kind.MALFORMED, record, rel, "key " + key + " is given twice (storage and "
                    + "tensor keys share one table in torch; a second one would replace the first)");
        }
    }

    private static String key(Object k, String record, long rel) throws CheckpointException {
        if (k instanceof Long || k instanceof BigInteger) {
            return k.toString();
        } else if (k instanceof String s) {
            return canonical(s.strip());
        }
        throw CheckpointException.at(Kind.MALFORMED, record, rel, "a key is a " + (k == null ? "None"
                : k.getClass().getSimpleName()) + ", not an int");
    }

    private static long nonNegativeCount(Object v, String record, long rel) throws CheckpointException {
        if (!(v instanceof Long n) || n < 0) {
            throw CheckpointException.at(Kind.MALFORMED, record, rel, "the count is " + v + ", not an int >= 0");
        }
        return n;
    }

    private long int64(long pos, String record) throws CheckpointException {
        return ByteBuffer.wrap(read(pos, 8, record)).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    private byte[] read(long pos, int len, String record) throws CheckpointException {
        try {
            return file.read(pos, len);
        } catch (IOException e) {
            throw CheckpointException.at(Kind.IO, record, -1, "cannot read: " + e).withCause(e);
        }
    }
}
