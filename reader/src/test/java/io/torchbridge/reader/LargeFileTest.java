package io.torchbridge.reader;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.testing.P;
import io.torchbridge.testing.TestZip;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Tensors over 2 GiB and files over 4 GiB (zip64), without gigabytes of real data: the checkpoint
 * is a sparse file whose one float32 storage of 1.2e9 elements (4.8 GB) is a hole except for a few
 * planted values near the start, across the 2 GiB and 4 GiB marks, past 4 GiB and at the end.
 *
 * <p>The saved object is {@code {'big': s[0:600_000_000], 'tail': s[1_100_000_000:+16],
 * 'across4g': s[2^30-2:+4], 'strided': s[100:].as_strided((4, 2), (300_000_000, 1))}}, all views
 * of one storage {@code data/0}; the {@code version} record lies past 4.8 GB, so both a zip64 size
 * and a zip64 local-header offset are read.
 */
class LargeFileTest {
    private static final long GIB = 1L << 30;
    private static final long STORAGE_NUMEL = 1_200_000_000L;
    private static final long BIG_NUMEL = 600_000_000L;
    private static final long TAIL_OFFSET = 1_100_000_000L;
    private static final int TAIL_NUMEL = 16;
    private static final long ACROSS_OFFSET = (1L << 30) - 2; // bytes 4 GiB - 8 .. 4 GiB + 8
    private static final long STRIDED_OFFSET = 100;
    private static final long STRIDED_STRIDE = 300_000_000L;

    /** Storage element -> its value; every other element of the storage is 0.0f. */
    private static final NavigableMap<Long, Float> PLANTED = new TreeMap<>();

    static {
        PLANTED.put(0L, 1.5f);
        // The 2 GiB mark of the storage (a 1 GiB mapping-chunk boundary too), inside 'big'.
        long m2 = (1L << 31) / 4;
        PLANTED.put(m2 - 2, 3.25f);
        PLANTED.put(m2 - 1, -0.5f);
        PLANTED.put(m2, 1e30f);
        PLANTED.put(m2 + 1, 42f);
        PLANTED.put(BIG_NUMEL - 1, 9f); // last element of 'big'
        PLANTED.put(BIG_NUMEL, 99f); // first element after 'big'
        // The 4 GiB mark: 'across4g'.
        PLANTED.put(ACROSS_OFFSET, 7.5f);
        PLANTED.put(ACROSS_OFFSET + 1, Float.MIN_VALUE);
        PLANTED.put(ACROSS_OFFSET + 2, -0.0f);
        PLANTED.put(ACROSS_OFFSET + 3, Float.MAX_VALUE);
        // 'strided': rows of two elements 1.2 GB apart.
        for (int r = 0; r < 4; r++) {
            PLANTED.put(STRIDED_OFFSET + r * STRIDED_STRIDE, r + 2f);
            PLANTED.put(STRIDED_OFFSET + r * STRIDED_STRIDE + 1, -(r + 2f));
        }
        // 'tail', past 4 GiB.
        for (int i = 0; i < TAIL_NUMEL; i++) {
            PLANTED.put(TAIL_OFFSET + i, (i - 7.5f) * 0.125f);
        }
        PLANTED.put(STORAGE_NUMEL - 1, 123f); // last element of the storage
    }

    @TempDir
    static Path dir;
    static Path file;
    static long storageDataOffset;
    static byte[] pickle;
    static Checkpoint ckpt;

    @BeforeAll
    static void writeSparseCheckpoint() throws IOException {
        file = dir.resolve("bigckpt.pt");
        pickle = pickle();
        NavigableMap<Long, byte[]> pieces = new TreeMap<>();
        // Contiguous planted elements become one piece.
        long runStart = -1;
        ByteBuffer run = null;
        for (Map.Entry<Long, Float> e : PLANTED.entrySet()) {
            if (run == null || e.getKey() != runStart + run.position() / 4) {
                if (run != null) {
                    pieces.put(runStart * 4, java.util.Arrays.copyOf(run.array(), run.position()));
                }
                runStart = e.getKey();
                run = ByteBuffer.allocate(4 * 64).order(ByteOrder.LITTLE_ENDIAN);
            }
            run.putFloat(e.getValue());
        }
        pieces.put(runStart * 4, java.util.Arrays.copyOf(run.array(), run.position()));

        try (TestZip zip = new TestZip(file, "bigckpt")) {
            zip.add("data.pkl", pickle);
            zip.add("byteorder", "little".getBytes(StandardCharsets.US_ASCII));
            storageDataOffset = zip.addSparse("data/0", STORAGE_NUMEL * 4, pieces);
            zip.add("version", "3\n".getBytes(StandardCharsets.US_ASCII));
        }
        ckpt = Checkpoint.open(file);
    }

    @AfterAll
    static void close() throws IOException {
        if (ckpt != null) {
            ckpt.close();
        }
    }

    @Test
    void zip64ArchiveOpensAndRecordsPast4GiBAreRead() throws IOException {
        assertTrue(Files.size(file) > 4_800_000_000L, "the archive is over 4 GiB");
        assertEquals(Format.ZIP, ckpt.format());
        assertEquals("bigckpt", ckpt.archiveName());
        assertEquals(List.of("data.pkl", "byteorder", "data/0", "version"), ckpt.records());
        assertEquals(3, ckpt.formatVersion(), "the version record lies past 4.8 GB (zip64 offset)");
        assertEquals(ByteOrder.LITTLE_ENDIAN, ckpt.byteOrder());
        assertEquals(List.of("big", "tail", "across4g", "strided"), ckpt.names());

        // The JDK's own zip reader, an independent parser, agrees on the records and on where
        // the storage's bytes are: read 'tail' through it by skipping 4.4 GB.
        try (ZipFile jdk = new ZipFile(file.toFile())) {
            ZipEntry storage = jdk.getEntry("bigckpt/data/0");
            assertEquals(STORAGE_NUMEL * 4, storage.getSize());
            assertEquals(ZipEntry.STORED, storage.getMethod());
            assertEquals("3\n", new String(readAll(jdk, "bigckpt/version"), StandardCharsets.US_ASCII));
            assertArrayEquals(pickle, readAll(jdk, "bigckpt/data.pkl"));
            byte[] viaJdk = new byte[TAIL_NUMEL * 4];
            try (InputStream in = jdk.getInputStream(storage)) {
                long skip = TAIL_OFFSET * 4;
                while (skip > 0) {
                    skip -= in.skip(skip);
                }
                assertEquals(viaJdk.length, in.readNBytes(viaJdk, 0, viaJdk.length));
            }
            assertArrayEquals(viaJdk, ckpt.tensor("tail").toByteArray());
        }
    }

    @Test
    void infoDescribesViewsOfOneStorageOver4GiB() {
        Tensor big = ckpt.tensor("big");
        TensorInfo info = big.info();
        assertEquals(DType.FLOAT32, info.dtype());
        assertArrayEquals(new long[] {BIG_NUMEL}, info.shape().toArray());
        assertArrayEquals(new long[] {1}, info.stride().toArray());
        assertEquals(0, info.storageOffset());
        assertEquals(BIG_NUMEL, big.numel());
        assertEquals(2_400_000_000L, info.nbytes());
        assertTrue(info.isContiguous());
        StorageInfo storage = info.storage();
        assertEquals(new StorageInfo("0", "FloatStorage", "cpu", STORAGE_NUMEL * 4), storage);
        assertEquals("data/0", storage.record());

        TensorInfo tail = ckpt.tensor("tail").info();
        assertEquals(TAIL_OFFSET, tail.storageOffset());
        assertArrayEquals(new long[] {TAIL_NUMEL}, tail.shape().toArray());
        assertEquals(storage, tail.storage(), "both views name the same storage");

        TensorInfo strided = ckpt.tensor("strided").info();
        assertArrayEquals(new long[] {4, 2}, strided.shape().toArray());
        assertArrayEquals(new long[] {STRIDED_STRIDE, 1}, strided.stride().toArray());
        assertEquals(3 * STRIDED_STRIDE + 2, strided.extent());
    }

    @Test
    void tailPast4GiBReadsExactly() {
        Tensor tail = ckpt.tensor("tail");
        int[] expected = expectedBits(TAIL_OFFSET, new long[] {TAIL_NUMEL}, new long[] {1});
        assertArrayEquals(expected, bits(tail.toFloatArray()));

        ByteBuffer data = tail.data();
        assertTrue(data.isReadOnly());
        assertEquals(ByteOrder.LITTLE_ENDIAN, data.order());
        assertEquals(TAIL_NUMEL * 4, data.remaining());
        int[] viaData = new int[TAIL_NUMEL];
        for (int i = 0; i < TAIL_NUMEL; i++) {
            viaData[i] = data.getInt(data.position() + 4 * i);
        }
        assertArrayEquals(expected, viaData);

        // A copy into the caller's destination, at its position, which it advances.
        ByteBuffer dst = ByteBuffer.allocateDirect(7 + TAIL_NUMEL * 4 + 5).order(ByteOrder.LITTLE_ENDIAN);
        dst.position(7);
        tail.copyTo(dst);
        assertEquals(7 + TAIL_NUMEL * 4, dst.position());
        for (int i = 0; i < TAIL_NUMEL; i++) {
            assertEquals(expected[i], dst.getInt(7 + 4 * i));
        }
    }

    @Test
    void bigTensorRefusesOneBufferAndSplitsIntoChunks() {
        Tensor big = ckpt.tensor("big");
        IllegalStateException e = assertThrows(IllegalStateException.class, big::data);
        assertTrue(e.getMessage().contains("dataChunks()") && e.getMessage().contains("stream()"), e.getMessage());

        List<ByteBuffer> chunks = big.dataChunks();
        long total = 0;
        for (ByteBuffer c : chunks) {
            assertTrue(c.isReadOnly());
            assertEquals(ByteOrder.LITTLE_ENDIAN, c.order());
            assertTrue(c.remaining() <= GIB);
            total += c.remaining();
        }
        assertEquals(2_400_000_000L, total);
        // Split at the storage's 1 GiB boundaries: 1 GiB, 1 GiB, and the rest.
        assertEquals((2_400_000_000L + GIB - 1) / GIB, chunks.size());
        assertEquals(List.of((int) GIB, (int) GIB, (int) (2_400_000_000L - 2 * GIB)),
                chunks.stream().map(ByteBuffer::remaining).toList());

        // Every planted value of 'big' is where the chunking says, including those around 2 GiB.
        int seen = 0;
        for (Map.Entry<Long, Float> p : PLANTED.headMap(BIG_NUMEL).entrySet()) {
            long at = p.getKey() * 4;
            ByteBuffer c = chunks.get((int) (at / GIB));
            assertEquals(Float.floatToRawIntBits(p.getValue()), c.getInt(c.position() + (int) (at % GIB)),
                    "element " + p.getKey());
            seen++;
        }
        assertEquals(10, seen);
        ByteBuffer second = chunks.get(1);
        ByteBuffer third = chunks.get(2);
        assertEquals(-0.5f, second.getFloat(second.limit() - 4), "last float before the 2 GiB mark");
        assertEquals(1e30f, third.getFloat(third.position()), "first float at the 2 GiB mark");
        assertEquals(9f, third.getFloat(third.limit() - 4), "last float of 'big'");
        assertEquals(0f, chunks.get(0).getFloat(12345678));
    }

    @Test
    void bigTensorStreamsEveryByte() {
        Tensor big = ckpt.tensor("big");
        long[] pos = {0};
        int[] pieces = {0};
        List<long[]> nonZero = new ArrayList<>(); // {element, float bits}
        big.stream(piece -> {
            ByteBuffer b = piece.slice().order(ByteOrder.LITTLE_ENDIAN);
            int n = b.remaining();
            int i = 0;
            for (; i + 8 <= n; i += 8) {
                if (b.getLong(i) != 0) {
                    note(nonZero, pos[0] + i, b.getInt(i));
                    note(nonZero, pos[0] + i + 4, b.getInt(i + 4));
                }
            }
            for (; i < n; i += 4) {
                note(nonZero, pos[0] + i, b.getInt(i));
            }
            pos[0] += n;
            pieces[0]++;
            piece.position(piece.limit());
        });
        assertEquals(2_400_000_000L, pos[0]);
        assertTrue(pieces[0] >= 3, "a stream of 2.4 GB comes in more than one buffer");
        List<long[]> expected = new ArrayList<>();
        for (Map.Entry<Long, Float> p : PLANTED.headMap(BIG_NUMEL).entrySet()) {
            note(expected, p.getKey() * 4, Float.floatToRawIntBits(p.getValue()));
        }
        assertEquals(render(expected), render(nonZero));

        ByteBuffer small = ByteBuffer.allocate(1024);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> big.copyTo(small));
        assertTrue(e.getMessage().contains("2400000000"), e.getMessage());
        assertEquals(0, small.position());
        IllegalStateException tooBig = assertThrows(IllegalStateException.class, big::toByteArray);
        assertTrue(tooBig.getMessage().contains("stream()"), tooBig.getMessage());
    }

    @Test
    void smallViewAcross4GiBMarkIsCopiedNotViewed() {
        Tensor across = ckpt.tensor("across4g");
        // 16 bytes, but they straddle the 1 GiB mapping boundary at 4 GiB: no single view.
        IllegalStateException e = assertThrows(IllegalStateException.class, across::data);
        assertTrue(e.getMessage().contains("dataChunks()"), e.getMessage());
        List<ByteBuffer> chunks = across.dataChunks();
        assertEquals(List.of(8, 8), chunks.stream().map(ByteBuffer::remaining).toList());
        assertEquals(7.5f, chunks.get(0).getFloat(chunks.get(0).position()));
        assertEquals(Float.MAX_VALUE, chunks.get(1).getFloat(chunks.get(1).position() + 4));

        int[] expected = expectedBits(ACROSS_OFFSET, new long[] {4}, new long[] {1});
        assertArrayEquals(expected, bits(across.toFloatArray()), "-0.0f and the subnormal keep their bits");
        ByteBuffer dst = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        across.copyTo(dst);
        assertEquals(16, dst.position());
        for (int i = 0; i < 4; i++) {
            assertEquals(expected[i], dst.getInt(4 * i));
        }
    }

    @Test
    void stridedViewSpanning3_6GBReadsEachRow() {
        Tensor strided = ckpt.tensor("strided");
        assertThrows(IllegalStateException.class, strided::data);
        int[] expected = expectedBits(STRIDED_OFFSET, new long[] {4, 2}, new long[] {STRIDED_STRIDE, 1});
        assertArrayEquals(new int[] {bits(2f), bits(-2f), bits(3f), bits(-3f), bits(4f), bits(-4f), bits(5f),
                bits(-5f)}, expected);
        assertArrayEquals(expected, bits(strided.toFloatArray()));
        // Its views reach 3.6 GB of storage, in 1 GiB chunks.
        long reach = 0;
        for (ByteBuffer c : strided.dataChunks()) {
            reach += c.remaining();
        }
        assertEquals((3 * STRIDED_STRIDE + 2) * 4, reach);
    }

    @Test
    void viewsOutliveCloseButNewAccessFails() throws IOException {
        ByteBuffer tailView;
        Tensor big;
        try (Checkpoint second = Checkpoint.open(file)) {
            tailView = second.tensor("tail").data();
            big = second.tensor("big");
        }
        assertEquals((0 - 7.5f) * 0.125f, tailView.getFloat(tailView.position()));
        assertThrows(IllegalStateException.class, big::dataChunks);
    }

    @Test
    void sparseCrcHelperMatchesJavaUtilZip() {
        // The test's zip writer computes the storage's CRC-32 without reading its zeros.
        byte[] data = new byte[100_003];
        data[0] = 5;
        data[4096] = (byte) 0xAB;
        data[4097] = 1;
        data[100_002] = 9;
        CRC32 full = new CRC32();
        full.update(data);
        long crc = 0;
        int pos = 0;
        for (int at : new int[] {0, 4096, 4097, 100_002}) {
            crc = TestZip.crc32Zeros(crc, at - pos);
            CRC32 one = new CRC32();
            one.update(data, at, 1);
            crc = TestZip.crc32Combine(crc, one.getValue(), 1);
            pos = at + 1;
        }
        assertEquals(full.getValue(), crc);
        CRC32 zeros = new CRC32();
        zeros.update(new byte[1 << 20]);
        assertEquals(zeros.getValue(), TestZip.crc32Zeros(0, 1 << 20));
    }

    // ---- expectations ----

    /** Raw float bits of a view's logical values, from the planted map. */
    private static int[] expectedBits(long offset, long[] shape, long[] stride) {
        int n = (int) java.util.Arrays.stream(shape).reduce(1, Math::multiplyExact);
        int[] out = new int[n];
        long[] index = new long[shape.length];
        for (int k = 0; k < n; k++) {
            long e = offset;
            for (int d = 0; d < shape.length; d++) {
                e += index[d] * stride[d];
            }
            out[k] = bits(PLANTED.getOrDefault(e, 0f));
            for (int d = shape.length - 1; d >= 0 && ++index[d] == shape[d]; d--) {
                index[d] = 0;
            }
        }
        return out;
    }

    private static int bits(float f) {
        return Float.floatToRawIntBits(f);
    }

    private static int[] bits(float[] f) {
        int[] out = new int[f.length];
        for (int i = 0; i < f.length; i++) {
            out[i] = bits(f[i]);
        }
        return out;
    }

    private static void note(List<long[]> found, long byteOffset, int floatBits) {
        if (floatBits != 0) {
            found.add(new long[] {byteOffset / 4, floatBits});
        }
    }

    private static String render(List<long[]> found) {
        StringBuilder s = new StringBuilder();
        for (long[] f : found) {
            s.append(f[0]).append('=').append(Float.intBitsToFloat((int) f[1])).append(' ');
        }
        return s.toString();
    }

    private static byte[] readAll(ZipFile zip, String name) throws IOException {
        try (InputStream in = zip.getInputStream(zip.getEntry(name))) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            in.transferTo(out);
            return out.toByteArray();
        }
    }

    // ---- data.pkl, opcode by opcode, as torch.save (protocol 2) writes it ----

    private static byte[] pickle() {
        P p = P.proto(2).emptyDict().mark();
        tensor(p, "big", 0, new long[] {BIG_NUMEL}, new long[] {1});
        tensor(p, "tail", TAIL_OFFSET, new long[] {TAIL_NUMEL}, new long[] {1});
        tensor(p, "across4g", ACROSS_OFFSET, new long[] {4}, new long[] {1});
        tensor(p, "strided", STRIDED_OFFSET, new long[] {4, 2}, new long[] {STRIDED_STRIDE, 1});
        return p.setitems().stop().bytes();
    }

    /** {@code key: _rebuild_tensor_v2(...)}, the persistent id ('storage', FloatStorage, '0', 'cpu', numel) re-emitted per view. */
    private static void tensor(P p, String key, long offset, long[] size, long[] stride) {
        p.str(key).tensorV2("FloatStorage", "0", STORAGE_NUMEL, offset, size, stride);
    }
}
