package io.torchbridge.writer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.DType;
import io.torchbridge.reader.PyTuple;
import io.torchbridge.reader.Tensor;
import io.torchbridge.testing.ChildProcess;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link CheckpointWriter#save} is all or nothing: whatever fails (the tree, the data, the disk,
 * the rename), the file that was at the target stays byte for byte, and no temporary file stays
 * beside it. The killed-process half of the promise is {@code CrashSafetyTest} in compat-tests.
 */
class AtomicSaveTest {
    static final Pattern TEMP = Pattern.compile("\\.model\\.pt\\.[0-9a-f]+\\.tmp");

    @TempDir
    Path dir;

    /** Generation {@code g}: {@code n} floats, each a function of g and its index. */
    static Map<String, Object> generation(long g, int n) {
        float[] w = new float[n];
        for (int i = 0; i < n; i++) {
            w[i] = w(g, i);
        }
        Map<String, Object> tree = new LinkedHashMap<>();
        tree.put("generation", g);
        tree.put("w", NewTensor.of(w, n));
        return tree;
    }

    static float w(long g, int i) {
        return (float) ((g * 31 + i) % 65536);
    }

    /** Opens {@code file} and checks it is generation {@code g} of {@code n} floats, completely. */
    static void assertGeneration(Path file, long g, int n) throws IOException {
        try (Checkpoint c = Checkpoint.open(file)) {
            assertEquals(g, c.value("generation"));
            float[] w = c.tensor("w").toFloatArray();
            assertEquals(n, w.length);
            for (int i = 0; i < n; i++) {
                if (w[i] != w(g, i)) {
                    throw new AssertionError("w[" + i + "] = " + w[i] + ", not " + w(g, i));
                }
            }
        }
    }

    /** The names in {@code dir}, sorted. */
    static List<String> listing(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    // --- (a) failures -------------------------------------------------------------------------

    @Test
    void aTreeThePicklerRejectsFailsBeforeAnyFileExists() throws IOException {
        Path target = dir.resolve("model.pt");
        Map<String, Object> bad = new LinkedHashMap<>(generation(1, 10));
        bad.put("thread", new Thread("not a checkpoint value"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CheckpointWriter.save(bad, target));
        assertTrue(e.getMessage().contains("thread"), e.getMessage());
        assertEquals(List.of(), listing(dir), "not even a temporary file was made");
    }

    @Test
    void aTreeThePicklerRejectsLeavesThePreviousFile() throws IOException {
        Path target = dir.resolve("model.pt");
        CheckpointWriter.save(generation(1, 1000), target);
        byte[] before = Files.readAllBytes(target);

        Map<String, Object> bad = new LinkedHashMap<>(generation(2, 1000));
        bad.put("nested", List.of(1L, new StringBuilder("no pickle form")));
        assertThrows(IllegalArgumentException.class, () -> CheckpointWriter.save(bad, target));

        assertArrayEquals(before, Files.readAllBytes(target));
        assertGeneration(target, 1, 1000);
        assertEquals(List.of("model.pt"), listing(dir));
    }

    /** A failure in the middle of the data (here the progress callback throws, after 3 MiB of 8). */
    @Test
    void aFailureWhileWritingDataLeavesThePreviousFileAndNoTemp() throws IOException {
        Path target = dir.resolve("model.pt");
        int n = 2 << 20; // 8 MiB of floats
        CheckpointWriter.save(generation(1, n), target);
        byte[] before = Files.readAllBytes(target);

        RuntimeException boom = new IllegalStateException("simulated failure mid-write");
        AtomicReference<Path> temp = new AtomicReference<>();
        AtomicLong tempSize = new AtomicLong();
        AtomicLong at = new AtomicLong();
        WriteOptions failing = WriteOptions.defaults().withProgress(bytes -> {
            if (bytes >= 3 << 20) {
                try {
                    for (String name : listing(dir)) {
                        if (TEMP.matcher(name).matches()) {
                            temp.set(dir.resolve(name));
                            tempSize.set(Files.size(dir.resolve(name)));
                        }
                    }
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                at.set(bytes);
                throw boom;
            }
        });
        RuntimeException thrown = assertThrows(RuntimeException.class,
                () -> CheckpointWriter.save(generation(2, n), target, failing));
        assertSame(boom, thrown, "the caller gets the failure itself");

        assertNotNull(temp.get(), "the data was being written to a temporary file beside the target");
        assertTrue(tempSize.get() >= 3 << 20 && tempSize.get() < before.length,
                "the temp held " + tempSize.get() + " bytes when it failed (" + at.get() + " reported)");
        assertFalse(Files.exists(temp.get()), "the temporary file is deleted");
        assertArrayEquals(before, Files.readAllBytes(target), "the previous file is untouched");
        assertGeneration(target, 1, n);
        assertEquals(List.of("model.pt"), listing(dir));
    }

    /**
     * A real I/O failure: the disk fills up (a 1 MiB tmpfs, mounted for this test; needs root,
     * which CI has) while a 4 MiB checkpoint replaces a 64 KiB one.
     */
    @Test
    void aFullDiskLeavesThePreviousFileAndNoTemp() throws Exception {
        Path mnt = Files.createDirectories(dir.resolve("tiny"));
        run("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt.toString());
        try {
            Path target = mnt.resolve("model.pt");
            CheckpointWriter.save(generation(1, 16 << 10), target);
            byte[] before = Files.readAllBytes(target);

            IOException e = assertThrows(IOException.class, () -> CheckpointWriter.save(generation(2, 1 << 20), target));
            assertTrue(String.valueOf(e.getMessage()).contains("No space left on device"), e.toString());

            assertArrayEquals(before, Files.readAllBytes(target), "the previous file is untouched");
            assertGeneration(target, 1, 16 << 10);
            assertEquals(List.of("model.pt"), listing(mnt), "the temporary file is deleted");

            // Room again once the failed temp is gone: a small save still succeeds.
            CheckpointWriter.save(generation(3, 16 << 10), target);
            assertGeneration(target, 3, 16 << 10);
            assertEquals(List.of("model.pt"), listing(mnt));
        } finally {
            // Lazy: a mapping the reader handed a view out of outlives Checkpoint.close() until
            // GC (close unmaps only windows no view points into), which keeps a plain umount busy.
            run("umount", "-l", mnt.toString());
        }
    }

    /** The rename itself fails (the target is a folder with a file in it): all data was written and flushed. */
    @Test
    void aFailedRenameLeavesTheTargetAndNoTemp() throws IOException {
        Path target = Files.createDirectories(dir.resolve("model.pt"));
        Files.writeString(target.resolve("keep.txt"), "precious");
        AtomicLong written = new AtomicLong();
        WriteOptions counting = WriteOptions.defaults().withProgress(written::set);
        assertThrows(IOException.class, () -> CheckpointWriter.save(generation(2, 1 << 20), target, counting));
        assertTrue(written.get() >= 4 << 20, "the data was written before the rename failed: " + written.get());
        assertEquals(List.of("model.pt"), listing(dir), "the temporary file is deleted");
        assertEquals("precious", Files.readString(target.resolve("keep.txt")));
    }

    // --- (b) the previous file serves readers until the rename ---------------------------------

    @Test
    void thePreviousFileReadsWholeUntilTheRename() throws IOException {
        Path target = dir.resolve("model.pt");
        int n = 1 << 20; // 4 MiB: four progress reports
        CheckpointWriter.save(generation(1, n), target);
        AtomicInteger reports = new AtomicInteger();
        WriteOptions checking = WriteOptions.defaults().withProgress(bytes -> {
            reports.incrementAndGet();
            try {
                assertGeneration(target, 1, n);
                List<String> names = listing(dir);
                assertEquals(2, names.size(), "the target and one temp: " + names);
                assertEquals("model.pt", names.get(1), names.toString());
                assertTrue(TEMP.matcher(names.get(0)).matches(), "temp beside the target, hidden: " + names);
                assertTrue(Files.size(dir.resolve(names.get(0))) >= bytes, "the temp holds what was reported");
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        CheckpointWriter.save(generation(2, n), target, checking);
        assertTrue(reports.get() >= 4, reports.get() + " progress reports");
        assertGeneration(target, 2, n);
        assertEquals(List.of("model.pt"), listing(dir));
    }

    // --- (c) what is saved reads back exactly ----------------------------------------------------

    @Test
    void savedValuesReadBackExactly() throws IOException {
        float[] f32 = {0f, -0f, 1.5f, Float.MIN_VALUE, Float.MAX_VALUE, Float.POSITIVE_INFINITY,
                Float.NEGATIVE_INFINITY, Float.intBitsToFloat(0x7fc12345), Float.intBitsToFloat(0xffc00001)};
        double[] f64 = {0d, -0d, Math.PI, Double.MIN_VALUE, -Double.MAX_VALUE, Double.longBitsToDouble(0x7ff8000000abcdefL)};
        long[] i64 = {Long.MIN_VALUE, -1, 0, 1, Long.MAX_VALUE, 1L << 53};
        int[] i32 = {Integer.MIN_VALUE, -7, 0, 7, Integer.MAX_VALUE, 65536};
        short[] i16 = {Short.MIN_VALUE, -1, 0, 1, Short.MAX_VALUE, 300};
        boolean[] bools = {true, false, false, true};
        byte[] u8 = {0, 1, 127, (byte) 128, (byte) 255};

        Map<String, Object> nested = new LinkedHashMap<>();
        nested.put("lr", 1e-3);
        nested.put("betas", PyTuple.of(0.9, 0.999));
        nested.put("name", "résumé ✓");
        nested.put("big", BigInteger.ONE.shiftLeft(70).negate());
        nested.put("items", new ArrayList<>(Arrays.asList(1L, 2.5, "x", true, null)));
        Map<String, Object> tree = new LinkedHashMap<>();
        NewTensor base = NewTensor.of(f32, 3, 3);
        tree.put("f32", base);
        tree.put("f32.t", base.view(0, new long[] {3, 3}, new long[] {1, 3})); // transpose, same storage
        tree.put("f64", NewTensor.of(f64, 2, 3));
        tree.put("i64", NewTensor.of(i64, 6));
        tree.put("i32", NewTensor.of(i32, 3, 2));
        tree.put("i16", NewTensor.of(i16, 6));
        tree.put("bool", NewTensor.of(bools, 2, 2));
        tree.put("u8", NewTensor.ofBytes(u8, DType.UINT8, 5));
        tree.put("empty", NewTensor.of(new float[0], 0, 4));
        tree.put("epoch", 7L);
        tree.put("nested", nested);

        Path target = dir.resolve("model.pt");
        CheckpointWriter.save(generation(1, 100), target); // replaced below
        CheckpointWriter.save(tree, target);
        assertEquals(List.of("model.pt"), listing(dir));

        try (Checkpoint c = Checkpoint.open(target)) {
            assertEquals("model", c.archiveName(), "torch names the archive after the file");
            assertEquals(List.of("f32", "f32.t", "f64", "i64", "i32", "i16", "bool", "u8", "empty"), c.names());
            assertArrayEquals(bits(f32), bits(c.tensor("f32").toFloatArray()));
            assertEquals(List.of(3L, 3L), shape(c.tensor("f32")));
            float[] t = c.tensor("f32.t").toFloatArray();
            for (int r = 0; r < 3; r++) {
                for (int k = 0; k < 3; k++) {
                    assertEquals(Float.floatToRawIntBits(f32[k * 3 + r]), Float.floatToRawIntBits(t[r * 3 + k]));
                }
            }
            assertEquals(c.tensor("f32").info().storage().key(), c.tensor("f32.t").info().storage().key(),
                    "a view shares its base's storage");
            double[] d = c.tensor("f64").toDoubleArray();
            for (int i = 0; i < f64.length; i++) {
                assertEquals(Double.doubleToRawLongBits(f64[i]), Double.doubleToRawLongBits(d[i]), "f64[" + i + "]");
            }
            assertArrayEquals(i64, c.tensor("i64").toLongArray());
            assertArrayEquals(i32, c.tensor("i32").toIntArray());
            long[] s = c.tensor("i16").toLongArray();
            for (int i = 0; i < i16.length; i++) {
                assertEquals(i16[i], s[i], "i16[" + i + "]");
            }
            assertEquals(DType.INT16, c.tensor("i16").dtype());
            assertArrayEquals(bools, c.tensor("bool").toBooleanArray());
            assertArrayEquals(u8, c.tensor("u8").toByteArray());
            assertEquals(DType.UINT8, c.tensor("u8").dtype());
            assertEquals(List.of(0L, 4L), shape(c.tensor("empty")));
            assertEquals(0, c.tensor("empty").toFloatArray().length);

            assertEquals(7L, c.value("epoch"));
            assertEquals(1e-3, c.value("nested.lr"));
            assertEquals(PyTuple.of(0.9, 0.999), c.value("nested.betas"));
            assertEquals("résumé ✓", c.value("nested.name"));
            assertEquals(BigInteger.ONE.shiftLeft(70).negate(), c.value("nested.big"));
            assertEquals(Arrays.asList(1L, 2.5, "x", true, null), c.value("nested.items"));
        }

        // The archive name can be set, and a second save replaces the file whole.
        CheckpointWriter.save(generation(5, 100), target, WriteOptions.defaults().withArchiveName("archive"));
        try (Checkpoint c = Checkpoint.open(target)) {
            assertEquals("archive", c.archiveName());
        }
        assertGeneration(target, 5, 100);
        assertEquals(List.of("model.pt"), listing(dir));
    }

    @Test
    void theSameTreeSavesToTheSameBytes() throws IOException {
        CheckpointWriter.save(generation(4, 5000), dir.resolve("model.pt"));
        Path other = Files.createDirectories(dir.resolve("other")).resolve("model.pt");
        CheckpointWriter.save(generation(4, 5000), other, WriteOptions.defaults().withFsync(false));
        assertArrayEquals(Files.readAllBytes(dir.resolve("model.pt")), Files.readAllBytes(other));
    }

    private static int[] bits(float[] f) {
        int[] b = new int[f.length];
        for (int i = 0; i < f.length; i++) {
            b[i] = Float.floatToRawIntBits(f[i]);
        }
        return b;
    }

    private static List<Long> shape(Tensor t) {
        List<Long> l = new ArrayList<>();
        for (long v : t.shape().toArray()) {
            l.add(v);
        }
        return l;
    }

    private static void run(String... cmd) throws IOException, InterruptedException {
        ChildProcess.Result r = ChildProcess.run(List.of(cmd), null, Duration.ofSeconds(30));
        if (r.exitCode() != 0) {
            throw new AssertionError(String.join(" ", cmd) + " failed: " + r.output().strip()
                    + " (this test mounts a 1 MiB tmpfs to fill the disk and needs root, as CI has)");
        }
    }
}
