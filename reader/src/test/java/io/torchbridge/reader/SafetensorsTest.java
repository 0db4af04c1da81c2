package io.torchbridge.reader;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.reader.internal.data.MappedFile;
import io.torchbridge.reader.internal.format.Safetensors;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The safetensors reader on hand-made files: what it reads, and one test per rule of the format
 * (safetensors/src/tensor.rs, read_metadata and Metadata::validate) that a file can break. Files
 * that real safetensors writes are checked against its own loader in compat-tests.
 */
class SafetensorsTest {
    @TempDir
    Path dir;

    /** An 8-byte little-endian length, the header, the data. */
    static byte[] file(byte[] header, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header).put(data);
        return b.array();
    }

    static byte[] file(String header, byte[] data) {
        return file(header.getBytes(StandardCharsets.UTF_8), data);
    }

    private Path write(String header, byte[] data) throws IOException {
        return Files.write(dir.resolve("t.safetensors"), file(header, data));
    }

    private static byte[] floats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putFloat(f);
        }
        return b.array();
    }

    /** Runs the format itself on {@code path}, past the file-kind sniff (which wants a '{' at byte 8). */
    private static CheckpointException refusal(Path path) throws IOException {
        try (MappedFile f = MappedFile.open(path)) {
            return assertThrows(CheckpointException.class, () -> new Safetensors(f).unpickle(ReadOptions.defaults(), false));
        }
    }

    private CheckpointException refusal(String header, byte[] data) throws IOException {
        Path p = write(header, data);
        CheckpointException viaOpen = assertThrows(CheckpointException.class, () -> Checkpoint.open(p));
        CheckpointException direct = refusal(p);
        assertEquals(direct.kind(), viaOpen.kind());
        return direct;
    }

    @Test
    void readsTensorsInFileOrderWithMetadata() throws IOException {
        // header order b, a; data order a, b: load_file's order is the data's
        String h = "{\"__metadata__\":{\"format\":\"pt\",\"k\":\"v\"},"
                + "\"b\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[8,16]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        byte[] data = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putFloat(1.5f).putFloat(-2f).putLong(7)
                .array();
        try (Checkpoint c = Checkpoint.open(write(h, data))) {
            assertEquals(Format.SAFETENSORS, c.format());
            assertEquals(List.of("a", "b"), c.names());
            assertEquals(Map.of("format", "pt", "k", "v"), c.metadata());
            assertEquals(List.of("format", "k"), List.copyOf(c.metadata().keySet()));
            assertArrayEquals(new float[] {1.5f, -2f}, c.tensor("a").toFloatArray());
            assertEquals(DType.INT64, c.tensor("b").dtype());
            assertEquals(0, c.tensor("b").shape().rank());
            assertArrayEquals(new long[] {7}, c.tensor("b").toLongArray());
            assertTrue(c.root() instanceof PyDict d && d.pythonClass().equals(PyDict.DICT));
        }
    }

    /** scan: a safetensors file holds no pickle, so it is clean when it reads, and unreadable when its header is bad. */
    @Test
    void scanReadsTheHeader() throws IOException {
        Path good = write("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", new byte[1]);
        io.torchbridge.reader.scan.Scan.Report r = io.torchbridge.reader.scan.Scan.scan(good);
        assertEquals(io.torchbridge.reader.scan.Scan.Verdict.CLEAN, r.verdict());
        assertTrue(r.readsByDefault());
        Path bad = Files.write(dir.resolve("gap.safetensors"), file("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],"
                + "\"data_offsets\":[1,2]}}", new byte[2]));
        io.torchbridge.reader.scan.Scan.Report b = io.torchbridge.reader.scan.Scan.scan(bad);
        assertEquals(io.torchbridge.reader.scan.Scan.Verdict.UNREADABLE, b.verdict());
        assertTrue(b.error().contains("tensor 'a'"), b.error());
        // formats without metadata of their own have none
        try (Checkpoint z = Checkpoint.open(io.torchbridge.testing.Repo.fixture("2.14.1", "module_linear.pt"))) {
            assertEquals(Map.of(), z.metadata());
        }
    }

    @Test
    void emptyTensorsNamesWithEscapesAndAnEmptyHeader() throws IOException {
        String h = "{\"e\":{\"dtype\":\"F16\",\"shape\":[0,3],\"data_offsets\":[0,0]},"
                + "\"q\\\"\\u00e9\\u2603/\\\\\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[0,1]}}";
        try (Checkpoint c = Checkpoint.open(write(h, new byte[] {1}))) {
            assertEquals(List.of("e", "q\"\u00e9\u2603/\\"), c.names());
            assertEquals(0, c.tensor("e").numel());
            assertArrayEquals(new boolean[] {true}, c.tensor("q\"\u00e9\u2603/\\").toBooleanArray());
            assertEquals(Map.of(), c.metadata());
        }
        try (Checkpoint c = Checkpoint.open(write("{}", new byte[0]))) {
            assertEquals(List.of(), c.names());
        }
    }

    /** safetensors writes torch's float4_e2m1fn_x2 of shape [n] as F4 of shape [2n]: one byte holds the pair. */
    @Test
    void f4PairsAreOneFloat4x2Element() throws IOException {
        String h = "{\"f\":{\"dtype\":\"F4\",\"shape\":[3,2],\"data_offsets\":[0,3]}}";
        try (Checkpoint c = Checkpoint.open(write(h, new byte[] {1, 2, 3}))) {
            assertEquals(DType.FLOAT4_E2M1FN_X2, c.tensor("f").dtype());
            assertArrayEquals(new long[] {3, 1}, c.tensor("f").shape().toArray());
        }
    }

    @Test
    void everyTorchDtypeCodeIsRead() throws IOException {
        Object[][] codes = {{"F64", DType.FLOAT64}, {"F32", DType.FLOAT32}, {"F16", DType.FLOAT16},
            {"BF16", DType.BFLOAT16}, {"I64", DType.INT64}, {"I32", DType.INT32}, {"I16", DType.INT16},
            {"I8", DType.INT8}, {"U8", DType.UINT8}, {"U16", DType.UINT16}, {"U32", DType.UINT32},
            {"U64", DType.UINT64}, {"BOOL", DType.BOOL}, {"C64", DType.COMPLEX64},
            {"F8_E4M3", DType.FLOAT8_E4M3FN}, {"F8_E5M2", DType.FLOAT8_E5M2},
            {"F8_E4M3FNUZ", DType.FLOAT8_E4M3FNUZ}, {"F8_E5M2FNUZ", DType.FLOAT8_E5M2FNUZ},
            {"F8_E8M0", DType.FLOAT8_E8M0FNU}};
        for (Object[] c : codes) {
            DType d = (DType) c[1];
            String h = "{\"x\":{\"dtype\":\"" + c[0] + "\",\"shape\":[1],\"data_offsets\":[0," + d.itemSize() + "]}}";
            try (Checkpoint ck = Checkpoint.open(write(h, new byte[d.itemSize()]))) {
                assertEquals(d, ck.tensor("x").dtype(), (String) c[0]);
            }
        }
    }

    // --- one test per rule ---------------------------------------------------------------------

    @Test
    void aFileShorterThanTheLengthIsTruncated() throws IOException {
        Path p = Files.write(dir.resolve("short.safetensors"), new byte[] {2, 0, 0});
        assertEquals(Kind.TRUNCATED, refusal(p).kind());
    }

    @Test
    void theHeaderLengthIsBoundedAt100MB() throws IOException {
        // a u64 at or above 2^63
        byte[] b = file("{}", new byte[0]);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, -1L);
        assertEquals(Kind.LIMIT_EXCEEDED, refusal(Files.write(dir.resolve("neg.safetensors"), b)).kind());
        // just over the crate's MAX_HEADER_SIZE, in a sparse file that holds that much
        Path big = dir.resolve("big.safetensors");
        try (RandomAccessFile f = new RandomAccessFile(big.toFile(), "rw")) {
            f.write(ByteBuffer.allocate(9).order(ByteOrder.LITTLE_ENDIAN).putLong(Safetensors.MAX_HEADER + 1)
                    .put((byte) '{').array());
            f.setLength(Safetensors.MAX_HEADER + 16);
        }
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(big));
        assertEquals(Kind.LIMIT_EXCEEDED, e.kind());
    }

    @Test
    void theHeaderMustFitTheFile() throws IOException {
        byte[] b = file("{}", new byte[0]);
        b[0] = 3;
        assertEquals(Kind.TRUNCATED, refusal(Files.write(dir.resolve("long.safetensors"), b)).kind());
    }

    @Test
    void theHeaderIsUtf8() throws IOException {
        byte[] h = "{\"a\u00e9\":{}}".getBytes(StandardCharsets.UTF_8);
        h[3] = (byte) 0xC3; // a lead byte ...
        h[4] = (byte) 0x28; // ... followed by no continuation byte
        CheckpointException e = refusal(Files.write(dir.resolve("utf8.safetensors"), file(h, new byte[0])));
        assertEquals(Kind.MALFORMED, e.kind());
        assertTrue(e.record().isEmpty(), e.getMessage()); // not the JSON reader's refusal
        assertEquals(8 + 3, e.offset());
    }

    @Test
    void theHeaderStartsWithABrace() throws IOException {
        // JSON allows the space; the crate's InvalidHeaderStart does not
        CheckpointException e = refusal(Files.write(dir.resolve("space.safetensors"), file(" {}", new byte[0])));
        assertEquals(Kind.MALFORMED, e.kind());
    }

    @Test
    void aKeyTwiceIsRefused() throws IOException {
        String t = "{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}";
        assertEquals(Kind.MALFORMED, refusal("{\"a\":" + t + ",\"a\":" + t + "}", new byte[1]).kind());
    }

    @Test
    void dtypesTheFormatDoesNotDefineOrTorchCannotHoldAreRefusedByName() throws IOException {
        CheckpointException unknown = refusal("{\"x\":{\"dtype\":\"C128\",\"shape\":[1],\"data_offsets\":[0,16]}}",
                new byte[16]);
        assertEquals(Kind.MALFORMED, unknown.kind());
        assertEquals("x", unknown.tensorName().orElseThrow());
        assertTrue(unknown.getMessage().contains("C128"), unknown.getMessage());
        CheckpointException f6 = refusal("{\"y\":{\"dtype\":\"F6_E2M3\",\"shape\":[4],\"data_offsets\":[0,3]}}",
                new byte[3]);
        assertEquals(Kind.UNSUPPORTED, f6.kind());
        assertEquals("y", f6.tensorName().orElseThrow());
        assertTrue(f6.getMessage().contains("F6_E2M3"), f6.getMessage());
    }

    @Test
    void shapeEntriesAreNonNegative() throws IOException {
        // (-1) * (-1) elements would pass the size check
        CheckpointException e = refusal("{\"x\":{\"dtype\":\"F32\",\"shape\":[-1,-1],\"data_offsets\":[0,4]}}",
                new byte[4]);
        assertEquals(Kind.MALFORMED, e.kind());
        assertEquals("x", e.tensorName().orElseThrow());
    }

    @Test
    void theSizeIsTheShapeTimesTheItemSize() throws IOException {
        CheckpointException e = refusal("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", new byte[4]);
        assertEquals(Kind.MALFORMED, e.kind());
        assertEquals("x", e.tensorName().orElseThrow());
        CheckpointException overflow = refusal("{\"x\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904,4],"
                + "\"data_offsets\":[0,8]}}", new byte[8]);
        assertEquals(Kind.OUT_OF_RANGE, overflow.kind());
    }

    @Test
    void subByteTensorsFillWholeBytes() throws IOException {
        // 3 F4 values are 12 bits: the crate's MisalignedSlice
        assertEquals(Kind.MALFORMED, refusal("{\"x\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,1]}}",
                new byte[1]).kind());
    }

    @Test
    void f4NeedsPairsForTorch() throws IOException {
        // 6 F4 values in 3 bytes are valid safetensors, but rows of 3 do not split into torch's pairs
        CheckpointException e = refusal("{\"x\":{\"dtype\":\"F4\",\"shape\":[2,3],\"data_offsets\":[0,3]}}",
                new byte[3]);
        assertEquals(Kind.UNSUPPORTED, e.kind());
    }

    @Test
    void tensorsTileTheDataWithNoGapOrOverlap() throws IOException {
        String gap = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
        CheckpointException g = refusal(gap, floats(1, 2, 3));
        assertEquals(Kind.MALFORMED, g.kind());
        assertEquals("b", g.tensorName().orElseThrow());
        String overlap = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
        CheckpointException o = refusal(overlap, floats(1, 2, 3));
        assertEquals(Kind.MALFORMED, o.kind());
        assertEquals("b", o.tensorName().orElseThrow());
    }

    @Test
    void dataPastTheEndIsTruncatedAndBytesLeftOverAreRefused() throws IOException {
        CheckpointException past = refusal("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                floats(1));
        assertEquals(Kind.TRUNCATED, past.kind());
        assertEquals("a", past.tensorName().orElseThrow());
        CheckpointException left = refusal("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                floats(1, 2));
        assertEquals(Kind.MALFORMED, left.kind());
    }

    @Test
    void metadataHoldsOnlyStrings() throws IOException {
        assertEquals(Kind.MALFORMED, refusal("{\"__metadata__\":[\"a\"]}", new byte[0]).kind());
        assertEquals(Kind.MALFORMED, refusal("{\"__metadata__\":{\"a\":1}}", new byte[0]).kind());
        // serde reads null as no metadata
        try (Checkpoint c = Checkpoint.open(write("{\"__metadata__\":null}", new byte[0]))) {
            assertEquals(Map.of(), c.metadata());
        }
    }

    @Test
    void badEntriesAreMalformedNotRuntimeErrors() throws IOException {
        for (String entry : List.of("5", "{}", "{\"dtype\":1,\"shape\":[],\"data_offsets\":[0,1]}",
                "{\"dtype\":\"U8\",\"shape\":[1.5],\"data_offsets\":[0,1]}",
                "{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}",
                "{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}",
                "{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,99999999999999999999]}")) {
            CheckpointException e = refusal("{\"x\":" + entry + "}", new byte[1]);
            assertTrue(e.kind() == Kind.MALFORMED || e.kind() == Kind.OUT_OF_RANGE, entry + ": " + e);
            assertEquals("x", e.tensorName().orElseThrow(), entry);
        }
    }
}
