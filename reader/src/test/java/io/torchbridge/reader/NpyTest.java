package io.torchbridge.reader;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.testing.TestZip;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * .npy and .npz files as checkpoints: crafted headers, one test per refusal. What numpy itself
 * writes is checked against numpy's manifest in compat-tests (NumpyTest).
 */
class NpyTest {
    @TempDir
    Path dir;

    /** A .npy of {@code header} (padded as numpy pads it) and {@code data} bytes, version {@code major}. */
    static byte[] npy(int major, String header, int data) {
        byte[] h = header.getBytes(StandardCharsets.ISO_8859_1);
        int lenBytes = major == 1 ? 2 : 4;
        int hlen = h.length + 1;
        int pad = 64 - ((8 + lenBytes + hlen) % 64);
        ByteBuffer b = ByteBuffer.allocate(8 + lenBytes + hlen + pad + data).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) major, 0});
        if (major == 1) {
            b.putShort((short) (hlen + pad));
        } else {
            b.putInt(hlen + pad);
        }
        b.put(h).put(" ".repeat(pad).getBytes(StandardCharsets.ISO_8859_1)).put((byte) '\n');
        for (int i = 0; i < data; i++) {
            b.put((byte) i);
        }
        return b.array();
    }

    private Path file(String name, byte[] bytes) throws IOException {
        return Files.write(dir.resolve(name), bytes);
    }

    private CheckpointException refused(byte[] bytes) throws IOException {
        Path f = file("x.npy", bytes);
        return assertThrows(CheckpointException.class, () -> Checkpoint.open(f).close());
    }

    @Test
    void aPlainArrayIsOneTensorNamedEmpty() throws IOException {
        byte[] b = npy(1, "{'descr': '<i2', 'fortran_order': False, 'shape': (2, 3), }", 12);
        try (Checkpoint c = Checkpoint.open(file("a.npy", b))) {
            assertEquals(Format.NPY, c.format());
            Tensor t = c.tensor("");
            assertEquals(DType.INT16, t.dtype());
            assertArrayEquals(new long[] {2, 3}, t.shape().toArray());
            assertArrayEquals(new long[] {0x0100, 0x0302, 0x0504, 0x0706, 0x0908, 0x0B0A}, t.toLongArray());
        }
    }

    @Test
    void fortranOrderIsAColumnMajorViewAndBigEndianIsSwapped() throws IOException {
        byte[] f = npy(2, "{'descr': '>u2', 'fortran_order': True, 'shape': (2, 3), }", 12);
        try (Checkpoint c = Checkpoint.open(file("f.npy", f))) {
            Tensor t = c.tensor("");
            assertArrayEquals(new long[] {1, 2}, t.info().stride().toArray());
            // column-major storage 0x0001, 0x0203, ... big-endian; row-major values read down the columns
            assertArrayEquals(new long[] {0x0001, 0x0405, 0x0809, 0x0203, 0x0607, 0x0A0B}, t.toLongArray());
        }
    }

    @Test
    void objectArraysAreRefusedTheyHoldPickles() throws IOException {
        CheckpointException e = refused(npy(1, "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", 16));
        assertEquals(Kind.UNSUPPORTED, e.kind());
        assertTrue(e.getMessage().contains("object array"), e.getMessage());
    }

    @Test
    void dtypesTorchLacksAndStructuredArraysAreRefused() throws IOException {
        assertEquals(Kind.UNSUPPORTED, refused(npy(1, "{'descr': '<U2', 'fortran_order': False, 'shape': (2,), }", 16)).kind());
        assertEquals(Kind.UNSUPPORTED, refused(npy(1, "{'descr': '=f4', 'fortran_order': False, 'shape': (2,), }", 8)).kind());
        assertEquals(Kind.UNSUPPORTED,
                refused(npy(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8)).kind());
    }

    @Test
    void theDataMustBeExactlyWhatTheShapeNeeds() throws IOException {
        String h = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
        assertEquals(Kind.TRUNCATED, refused(npy(1, h, 23)).kind());
        assertEquals(Kind.MALFORMED, refused(npy(1, h, 25)).kind());
        // a shape whose byte count overflows
        CheckpointException e = refused(npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", 0));
        assertEquals(Kind.OUT_OF_RANGE, e.kind(), e.getMessage());
        // an empty array whose other sizes overflow when multiplied (its strides would)
        e = refused(npy(1, "{'descr': '<f8', 'fortran_order': True, 'shape': (0, 4611686018427387904, 4), }", 0));
        assertEquals(Kind.OUT_OF_RANGE, e.kind(), e.getMessage());
    }

    @Test
    void theHeaderIsParsedNeverEvaluated() throws IOException {
        assertEquals(Kind.MALFORMED, refused(npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'descr': '<f4'}", 8)).kind());
        assertEquals(Kind.MALFORMED, refused(npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } + x", 8)).kind());
        assertEquals(Kind.MALFORMED, refused(npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", 8)).kind());
        assertEquals(Kind.MALFORMED, refused(npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 8)).kind());
        assertEquals(Kind.MALFORMED, refused(npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,", 8)).kind());
        assertEquals(Kind.MALFORMED, refused(npy(1, "{'descr': '<f4', 'fortran_order': 'no', 'shape': (2,), }", 8)).kind());
        assertEquals(Kind.MALFORMED, refused(npy(1, "{'descr': '<f4', 'fortran_order': False, }", 8)).kind());
        assertEquals(Kind.MALFORMED, refused(npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': __import__('os'), }", 8)).kind());
    }

    @Test
    void theHeaderLengthIsCheckedBeforeReading() throws IOException {
        byte[] ok = npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8);
        assertEquals(Kind.UNSUPPORTED, refused(withByte(ok, 6, 4)).kind()); // version 4.0
        assertEquals(Kind.UNSUPPORTED, refused(withByte(ok, 7, 1)).kind()); // version 1.1
        byte[] huge = npy(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8);
        huge[10] = 0x01; // a 64 KiB+ header length
        assertEquals(Kind.LIMIT_EXCEEDED, refused(huge).kind());
        byte[] past = withByte(ok, 9, 0x20); // 8 KiB header in a 136-byte file
        assertEquals(Kind.TRUNCATED, refused(past).kind());
        byte[] cut = java.util.Arrays.copyOf(ok, 9); // the length field cut off
        assertEquals(Kind.TRUNCATED, refused(cut).kind());
    }

    private static byte[] withByte(byte[] b, int at, int value) {
        byte[] c = b.clone();
        c[at] = (byte) value;
        return c;
    }

    @Test
    void anNpzIsADictOfItsArrays() throws IOException {
        Path f = dir.resolve("a.npz");
        try (TestZip z = new TestZip(f, "unused")) {
            z.addOutside("w.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8));
            z.addOutside("b.npy", npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (), }", 1));
        }
        try (Checkpoint c = Checkpoint.open(f)) {
            assertEquals(Format.NPZ, c.format());
            assertEquals(java.util.List.of("w", "b"), c.names());
            assertEquals("", c.archiveName());
        }
    }

    @Test
    void anNpzHoldsOnlyStoredNpyRecords() throws IOException {
        Path other = dir.resolve("b.npz");
        try (TestZip z = new TestZip(other, "unused")) {
            z.addOutside("w.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8));
            // a valid array under another name: not what numpy.load would list
            z.addOutside("notes.txt", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8));
        }
        assertEquals(Kind.MALFORMED, assertThrows(CheckpointException.class, () -> Checkpoint.open(other).close()).kind());
        Path garbage = dir.resolve("g.npz");
        try (TestZip z = new TestZip(garbage, "unused")) {
            z.addOutside("w.npy", "not an array at all".getBytes(StandardCharsets.US_ASCII));
        }
        assertEquals(Kind.MALFORMED, assertThrows(CheckpointException.class, () -> Checkpoint.open(garbage).close()).kind());
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(bytes)) {
            z.putNextEntry(new ZipEntry("a.npy")); // deflated, as numpy.savez_compressed writes
            z.write(npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8));
            z.closeEntry();
        }
        Path compressed = Files.write(dir.resolve("c.npz"), bytes.toByteArray());
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(compressed).close());
        assertEquals(Kind.UNSUPPORTED, e.kind());
        assertTrue(e.getMessage().contains("savez_compressed"), e.getMessage());
    }
}
