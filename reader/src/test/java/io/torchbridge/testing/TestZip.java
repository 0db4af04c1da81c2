package io.torchbridge.testing;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

/**
 * The tests' one writer of zip archives, independent of the project's writer. By default it writes
 * as torch.save does: every record STORED, its data 64-byte aligned through an {@code FB} padding
 * extra field, real sizes and CRC-32 in the local header (flags 0, no data descriptor), zip64 extra
 * fields where a size or a local-header offset reaches 0xFFFFFFFF, and always a ZIP64 end record
 * and locator before the classic end record.
 *
 * <p>For crafted archives it also writes DEFLATED records ({@link #addDeflated}), records whose
 * declared sizes lie ({@link #addDeflated(String, byte[], long)}, {@link #declareInCentral}),
 * duplicate names (add a name twice), names outside the archive folder ({@link #addOutside}) and
 * records that overlap ({@link #overlap}). {@link #addSparse} writes a record of any size of which
 * only a few pieces are written: the rest is a hole of the file (zeros that take no disk), so
 * archives over 4 GiB cost kilobytes. {@link #bytes} builds an archive in memory.
 */
public final class TestZip implements Closeable {
    private static final long MAX32 = 0xFFFFFFFFL;
    private static final int ALIGN = 64;
    private static final int STORED = 0;
    private static final int DEFLATED = 8;

    /** One central-directory entry; mutable so that a test can make it lie after the fact. */
    private static final class Central {
        final String name; // as written, archive folder included
        final int method;
        final long crc;
        long compressedSize;
        long size;
        long localOffset;

        Central(String name, int method, long crc, long compressedSize, long size, long localOffset) {
            this.name = name;
            this.method = method;
            this.crc = crc;
            this.compressedSize = compressedSize;
            this.size = size;
            this.localOffset = localOffset;
        }
    }

    /** Where the bytes go: a (sparse) file, or memory. */
    private interface Sink extends Closeable {
        void write(long pos, byte[] bytes) throws IOException;

        long size() throws IOException;
    }

    private final Sink sink;
    private final String archive;
    private final List<Central> central = new ArrayList<>();
    private long cursor;

    /** A new archive at {@code path} whose records lie under the folder {@code archive}. */
    public TestZip(Path path, String archive) throws IOException {
        this(fileSink(path), archive);
    }

    private TestZip(Sink sink, String archive) {
        this.sink = sink;
        this.archive = archive;
    }

    /** The bytes of the archive that {@code build} writes, records under the folder {@code archive}. */
    public static byte[] bytes(String archive, IoConsumer<TestZip> build) throws IOException {
        MemorySink memory = new MemorySink();
        try (TestZip zip = new TestZip(memory, archive)) {
            build.accept(zip);
        }
        return memory.toByteArray();
    }

    /** The bytes of an archive of STORED {@code records} (name to data, in order) under {@code archive}. */
    public static byte[] stored(String archive, Map<String, byte[]> records) throws IOException {
        return bytes(archive, zip -> {
            for (Map.Entry<String, byte[]> r : records.entrySet()) {
                zip.add(r.getKey(), r.getValue());
            }
        });
    }

    /** A {@link java.util.function.Consumer} that may throw {@link IOException}. */
    @FunctionalInterface
    public interface IoConsumer<T> {
        void accept(T t) throws IOException;
    }

    /** Adds {@code <archive>/<name>} holding {@code data}, STORED; returns the data's absolute offset. */
    public long add(String name, byte[] data) throws IOException {
        return record(archive + "/" + name, STORED, data, data.length, crc(data));
    }

    /**
     * Adds {@code fullName} (taken as it is, not under the archive folder) holding {@code data},
     * STORED; returns the data's absolute offset.
     */
    public long addOutside(String fullName, byte[] data) throws IOException {
        return record(fullName, STORED, data, data.length, crc(data));
    }

    /** Adds {@code <archive>/<name>} holding {@code data}, DEFLATED, with its true sizes. */
    public long addDeflated(String name, byte[] data) throws IOException {
        return addDeflated(name, data, data.length);
    }

    /**
     * Adds {@code <archive>/<name>} holding {@code data}, DEFLATED, whose local header and central
     * entry both declare {@code declaredSize} as its uncompressed size: where that is less than
     * {@code data.length} the record lies, and only a cap on the inflated bytes can catch it.
     */
    public long addDeflated(String name, byte[] data, long declaredSize) throws IOException {
        Deflater d = new Deflater(Deflater.DEFAULT_COMPRESSION, true); // raw deflate, as APPNOTE 4.4.5 method 8
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            d.setInput(data);
            d.finish();
            byte[] buf = new byte[64 * 1024];
            while (!d.finished()) {
                out.write(buf, 0, d.deflate(buf));
            }
        } finally {
            d.end();
        }
        return record(archive + "/" + name, DEFLATED, out.toByteArray(), declaredSize, crc(data));
    }

    /**
     * Adds {@code <archive>/<name>} of {@code size} bytes that are zero except for {@code pieces}
     * (record-relative offset to bytes, non-overlapping), which are the only bytes written; the
     * CRC-32 is computed without touching the zeros. Returns the data's absolute offset.
     */
    public long addSparse(String name, long size, NavigableMap<Long, byte[]> pieces) throws IOException {
        long crc = 0;
        long pos = 0;
        for (Map.Entry<Long, byte[]> p : pieces.entrySet()) {
            if (p.getKey() < pos || p.getKey() + p.getValue().length > size) {
                throw new IllegalArgumentException("piece at " + p.getKey() + " overlaps or lies outside");
            }
            crc = crc32Zeros(crc, p.getKey() - pos);
            CRC32 c = new CRC32();
            // CRC32 cannot be seeded; continue from crc by combining with the piece's own CRC.
            c.update(p.getValue());
            crc = crc32Combine(crc, c.getValue(), p.getValue().length);
            pos = p.getKey() + p.getValue().length;
        }
        crc = crc32Zeros(crc, size - pos);
        long at = header(archive + "/" + name, STORED, size, size, crc);
        for (Map.Entry<Long, byte[]> p : pieces.entrySet()) {
            sink.write(at + p.getKey(), p.getValue());
        }
        cursor = at + size;
        // Extend the file to the record's end even if its last bytes are a hole.
        if (sink.size() < cursor) {
            sink.write(cursor - 1, new byte[1]);
        }
        return at;
    }

    /**
     * Makes the central entry of the last record named {@code <archive>/<name>} declare these sizes;
     * its local header keeps the true ones.
     */
    public void declareInCentral(String name, long compressedSize, long size) {
        Central c = last(archive + "/" + name);
        c.compressedSize = compressedSize;
        c.size = size;
    }

    /**
     * Makes the central entry of {@code <archive>/<name>} point at the local header of
     * {@code <archive>/<onto>}: two records, one range of bytes.
     */
    public void overlap(String name, String onto) {
        last(archive + "/" + name).localOffset = last(archive + "/" + onto).localOffset;
    }

    private Central last(String fullName) {
        for (int i = central.size() - 1; i >= 0; i--) {
            if (central.get(i).name.equals(fullName)) {
                return central.get(i);
            }
        }
        throw new IllegalArgumentException("no record " + fullName);
    }

    /** Writes the central directory and end records, and closes the sink. */
    @Override
    public void close() throws IOException {
        try {
            long cdStart = cursor;
            ByteBuffer cd = le(256 * central.size() + 256);
            for (Central c : central) {
                byte[] n = c.name.getBytes(StandardCharsets.UTF_8);
                boolean bigSize = c.size >= MAX32 || c.compressedSize >= MAX32;
                boolean bigOffset = c.localOffset >= MAX32;
                int extraLen = (bigSize || bigOffset) ? 4 + (bigSize ? 16 : 0) + (bigOffset ? 8 : 0) : 0;
                cd.putInt(0x02014b50);
                cd.putShort((short) 45); // made by: 4.5 (zip64)
                cd.putShort((short) (extraLen > 0 ? 45 : 20));
                cd.putShort((short) 0); // flags
                cd.putShort((short) c.method);
                cd.putInt(0); // DOS time and date: 0, as torch.save writes
                cd.putInt((int) c.crc);
                cd.putInt((int) (bigSize ? MAX32 : c.compressedSize));
                cd.putInt((int) (bigSize ? MAX32 : c.size));
                cd.putShort((short) n.length);
                cd.putShort((short) extraLen);
                cd.putShort((short) 0); // comment
                cd.putShort((short) 0); // disk
                cd.putShort((short) 0); // internal attributes
                cd.putInt(0); // external attributes
                cd.putInt((int) (bigOffset ? MAX32 : c.localOffset));
                cd.put(n);
                if (extraLen > 0) {
                    cd.putShort((short) 0x0001);
                    cd.putShort((short) (extraLen - 4));
                    if (bigSize) {
                        cd.putLong(c.size); // uncompressed
                        cd.putLong(c.compressedSize);
                    }
                    if (bigOffset) {
                        cd.putLong(c.localOffset);
                    }
                }
            }
            long cdSize = cd.position();
            long eocd64 = cdStart + cdSize;
            cd.putInt(0x06064b50);
            cd.putLong(44);
            cd.putShort((short) 45);
            cd.putShort((short) 45);
            cd.putInt(0);
            cd.putInt(0);
            cd.putLong(central.size());
            cd.putLong(central.size());
            cd.putLong(cdSize);
            cd.putLong(cdStart);
            cd.putInt(0x07064b50);
            cd.putInt(0);
            cd.putLong(eocd64);
            cd.putInt(1);
            cd.putInt(0x06054b50);
            cd.putShort((short) 0);
            cd.putShort((short) 0);
            cd.putShort((short) Math.min(central.size(), 0xFFFF));
            cd.putShort((short) Math.min(central.size(), 0xFFFF));
            cd.putInt((int) Math.min(cdSize, MAX32));
            cd.putInt((int) Math.min(cdStart, MAX32));
            cd.putShort((short) 0);
            cd.flip();
            byte[] tail = new byte[cd.remaining()];
            cd.get(tail);
            sink.write(cdStart, tail);
        } finally {
            sink.close();
        }
    }

    /** Writes one whole record at the cursor: header, then {@code stored} (the bytes as kept). */
    private long record(String fullName, int method, byte[] stored, long declaredSize, long crc)
            throws IOException {
        long at = header(fullName, method, stored.length, declaredSize, crc);
        sink.write(at, stored);
        cursor = at + stored.length;
        return at;
    }

    /** Writes a local header at the cursor, padded so that the data is aligned; returns the data offset. */
    private long header(String fullName, int method, long compressedSize, long size, long crc) throws IOException {
        byte[] n = fullName.getBytes(StandardCharsets.UTF_8);
        boolean zip64 = size >= MAX32 || compressedSize >= MAX32;
        int zip64Len = zip64 ? 4 + 16 : 0;
        long unpadded = cursor + 30 + n.length + zip64Len + 4;
        int pad = (int) ((ALIGN - unpadded % ALIGN) % ALIGN);
        ByteBuffer h = le(30 + n.length + zip64Len + 4 + pad);
        h.putInt(0x04034b50);
        h.putShort((short) (zip64 ? 45 : 20));
        h.putShort((short) 0); // flags: sizes and CRC are here, no data descriptor
        h.putShort((short) method);
        h.putInt(0);
        h.putInt((int) crc);
        h.putInt((int) (zip64 ? MAX32 : compressedSize));
        h.putInt((int) (zip64 ? MAX32 : size));
        h.putShort((short) n.length);
        h.putShort((short) (zip64Len + 4 + pad));
        h.put(n);
        if (zip64) {
            // In a local header the zip64 field holds both sizes (APPNOTE 4.5.3).
            h.putShort((short) 0x0001);
            h.putShort((short) 16);
            h.putLong(size);
            h.putLong(compressedSize);
        }
        h.putShort((short) 0x4246); // 'F','B'
        h.putShort((short) pad);
        for (int i = 0; i < pad; i++) {
            h.put((byte) 'Z');
        }
        sink.write(cursor, h.array());
        central.add(new Central(fullName, method, crc, compressedSize, size, cursor));
        return cursor + h.capacity();
    }

    private static long crc(byte[] data) {
        CRC32 crc = new CRC32();
        crc.update(data);
        return crc.getValue();
    }

    private static Sink fileSink(Path path) throws IOException {
        FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                StandardOpenOption.SPARSE);
        return new Sink() {
            @Override
            public void write(long pos, byte[] bytes) throws IOException {
                ByteBuffer b = ByteBuffer.wrap(bytes);
                while (b.hasRemaining()) {
                    ch.write(b, pos + b.position());
                }
            }

            @Override
            public long size() throws IOException {
                return ch.size();
            }

            @Override
            public void close() throws IOException {
                ch.close();
            }
        };
    }

    /** An in-memory sink: a growing array (archives built this way stay small). */
    private static final class MemorySink implements Sink {
        private byte[] buf = new byte[4096];
        private int size;

        @Override
        public void write(long pos, byte[] bytes) {
            int end = Math.addExact(Math.toIntExact(pos), bytes.length);
            if (end > buf.length) {
                buf = Arrays.copyOf(buf, Math.max(end, buf.length * 2));
            }
            System.arraycopy(bytes, 0, buf, (int) pos, bytes.length);
            size = Math.max(size, end);
        }

        @Override
        public long size() {
            return size;
        }

        @Override
        public void close() {
        }

        byte[] toByteArray() {
            return Arrays.copyOf(buf, size);
        }
    }

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    // CRC-32 arithmetic over GF(2), after zlib's crc32_combine: advancing a CRC over n zero bytes
    // is a linear map of its register, applied by repeated squaring in O(log n).

    /** The CRC-32 of {@code A} followed by {@code n} zero bytes, given {@code crc} = CRC-32 of A. */
    public static long crc32Zeros(long crc, long n) {
        // CRC(A || 0^n) = shift_n(CRC(A) ^ ~0) ^ ~0, where shift_n is the register's zero-input step.
        return crc32Shift(crc ^ MAX32, n) ^ MAX32;
    }

    /** The CRC-32 of {@code A || B} from CRC(A), CRC(B) and B's length (zlib's crc32_combine). */
    public static long crc32Combine(long crcA, long crcB, long lenB) {
        return crc32Shift(crcA, lenB) ^ crcB;
    }

    /** The register {@code reg} advanced over {@code n} zero bytes (no pre/post conditioning). */
    private static long crc32Shift(long reg, long n) {
        if (n == 0) {
            return reg;
        }
        long[] odd = new long[32];
        long[] even = new long[32];
        odd[0] = 0xEDB88320L; // one zero bit
        long row = 1;
        for (int i = 1; i < 32; i++) {
            odd[i] = row;
            row <<= 1;
        }
        square(even, odd); // two zero bits
        square(odd, even); // four zero bits
        long r = reg;
        do {
            square(even, odd); // first pass: one zero byte
            if ((n & 1) != 0) {
                r = times(even, r);
            }
            n >>>= 1;
            if (n == 0) {
                break;
            }
            square(odd, even);
            if ((n & 1) != 0) {
                r = times(odd, r);
            }
            n >>>= 1;
        } while (n != 0);
        return r;
    }

    private static long times(long[] mat, long vec) {
        long sum = 0;
        int i = 0;
        while (vec != 0) {
            if ((vec & 1) != 0) {
                sum ^= mat[i];
            }
            vec >>>= 1;
            i++;
        }
        return sum;
    }

    private static void square(long[] square, long[] mat) {
        for (int i = 0; i < 32; i++) {
            square[i] = times(mat, mat[i]);
        }
    }
}
