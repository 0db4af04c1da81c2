package io.torchbridge.reader.internal.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The window arithmetic of {@link MappedFile} on small files, with a small step and chunk (64 and
 * 128 bytes instead of 512 MiB and 1 GiB): window k covers {@code [64k, 64k + 192)}, and every
 * range of at most 128 bytes lies in one window. And the lifetime rules: leases, close, escaped
 * windows.
 */
class MappedFileTest {
    private static final long STEP = 64;
    private static final long CHUNK = 128;

    @TempDir
    Path dir;

    /** A file whose byte i is a function of i, so that a misplaced slice reads wrong bytes. */
    private Path file(int size) throws IOException {
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) {
            b[i] = (byte) (i * 7 + (i >> 8));
        }
        Path p = dir.resolve("f" + size + ".bin");
        Files.write(p, b);
        return p;
    }

    private static byte[] expected(long offset, long length) {
        byte[] b = new byte[(int) length];
        for (int i = 0; i < length; i++) {
            long at = offset + i;
            b[i] = (byte) (at * 7 + (at >> 8));
        }
        return b;
    }

    private static byte[] read(MappedRegion r, List<Integer> sizes) {
        r.file().acquire();
        try {
            byte[] out = new byte[(int) r.length()];
            int pos = 0;
            for (ByteBuffer s : r.slices(0, r.length())) {
                sizes.add(s.remaining());
                s.get(out, pos, s.remaining());
                pos += s.capacity();
            }
            return out;
        } finally {
            r.file().release();
        }
    }

    @Test
    void everyRangeOfEveryRecordReadsItsOwnBytesFromABoundedNumberOfWindows() throws IOException {
        int size = 1000; // ceil(1000 / 64) = 16 windows at most
        try (MappedFile f = MappedFile.open(file(size), STEP, CHUNK)) {
            for (long off = 0; off < size; off += 13) {
                for (long len : new long[] {0, 1, 5, 63, 64, 65, 127, 128, 129, 255, 256, 257, 400}) {
                    if (off + len > size) {
                        continue;
                    }
                    MappedRegion r = f.region(off, len, ByteOrder.LITTLE_ENDIAN);
                    List<Integer> sizes = new java.util.ArrayList<>();
                    assertArrayEquals(expected(off, len), read(r, sizes), "[" + off + ", +" + len + ")");
                    // split only at multiples of the chunk counted from the record's start
                    for (int i = 0; i < sizes.size(); i++) {
                        assertEquals(i < sizes.size() - 1 ? CHUNK : len - CHUNK * i, (long) sizes.get(i));
                    }
                }
            }
            assertTrue(f.mappedWindows() <= 16, f.mappedWindows() + " windows");
        }
    }

    @Test
    void aRecordStraddlingAStepBoundaryIsOneSliceOfOneWindow() throws IOException {
        try (MappedFile f = MappedFile.open(file(1000), STEP, CHUNK)) {
            // [600, 720) straddles the steps at 640 and 704; window 7 ([448, 640)) cannot hold
            // it, window 8 ([512, 704)) neither, window 9 ([576, 768)) does.
            MappedRegion r = f.region(600, 120, ByteOrder.LITTLE_ENDIAN);
            List<Integer> sizes = new java.util.ArrayList<>();
            assertArrayEquals(expected(600, 120), read(r, sizes));
            assertEquals(List.of(120), sizes);
            assertEquals(1, f.mappedWindows());
        }
    }

    @Test
    void aRecordOverOneChunkIsSplitAtItsOwnChunkBoundaries() throws IOException {
        try (MappedFile f = MappedFile.open(file(1000), STEP, CHUNK)) {
            MappedRegion r = f.region(37, 900, ByteOrder.LITTLE_ENDIAN);
            List<Integer> sizes = new java.util.ArrayList<>();
            assertArrayEquals(expected(37, 900), read(r, sizes));
            assertEquals(List.of(128, 128, 128, 128, 128, 128, 128, 4), sizes);
            r.file().acquire();
            try {
                assertThrows(IllegalArgumentException.class, () -> r.slice(100, 60)); // crosses 128
                assertEquals(expected(37 + 130, 60)[0], r.slice(130, 60).get(0));
            } finally {
                r.file().release();
            }
        }
    }

    @Test
    void aFileNoLongerThanStepPlusChunkIsOneWindow() throws IOException {
        for (int size : new int[] {1, 50, 64, 191, 192}) {
            try (MappedFile f = MappedFile.open(file(size), STEP, CHUNK)) {
                for (long off = 0; off < size; off += 7) {
                    long len = Math.min(CHUNK, size - off);
                    assertArrayEquals(expected(off, len), read(f.region(off, len, ByteOrder.BIG_ENDIAN),
                            new java.util.ArrayList<>()));
                }
                assertEquals(1, f.mappedWindows(), "size " + size);
            }
        }
    }

    @Test
    void theProductionGeometryMapsAFileUnderOneAndAHalfGiBOnce() throws IOException {
        try (MappedFile f = MappedFile.open(file(4096))) {
            for (long off = 0; off < 4096; off += 512) {
                read(f.region(off, 512, ByteOrder.LITTLE_ENDIAN), new java.util.ArrayList<>());
            }
            assertEquals(1, f.mappedWindows());
        }
    }

    @Test
    void aLeaseAfterCloseFailsAndAnEscapedViewStaysReadable() throws IOException {
        MappedFile f = MappedFile.open(file(1000), STEP, CHUNK);
        MappedRegion escaped = f.region(10, 20, ByteOrder.LITTLE_ENDIAN);
        MappedRegion copied = f.region(900, 20, ByteOrder.LITTLE_ENDIAN);
        ByteBuffer view = escaped.views(0, 20).get(0);
        read(copied, new java.util.ArrayList<>());
        f.close();
        assertEquals(0, f.mappedWindows());
        IllegalStateException e = assertThrows(IllegalStateException.class, f::acquire);
        assertTrue(e.getMessage().contains("is closed"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> escaped.views(0, 20));
        byte[] got = new byte[20];
        view.get(got);
        assertArrayEquals(expected(10, 20), got);
        f.close(); // twice is harmless
    }

    /** Linux: the mappings of {@code p} in this process, as /proc/self/maps lists them. */
    private static long mappingsOf(Path p) throws IOException {
        Path maps = Path.of("/proc/self/maps");
        assumeTrue(Files.isReadable(maps), "no /proc/self/maps on this system: the unmap check needs Linux");
        String name = p.toRealPath().toString();
        return Files.readAllLines(maps).stream().filter(l -> l.endsWith(" " + name)).count();
    }

    @Test
    void closeUnmapsEveryWindowWithoutEscapedViews() throws IOException {
        Path p = file(1000);
        MappedFile f = MappedFile.open(p, STEP, CHUNK);
        read(f.region(0, 1000, ByteOrder.LITTLE_ENDIAN), new java.util.ArrayList<>());
        ByteBuffer view = f.region(900, 50, ByteOrder.LITTLE_ENDIAN).views(0, 50).get(0);
        long before = mappingsOf(p);
        assertTrue(before >= 2 && before <= 16, before + " mappings");
        f.close();
        // the window the view points into stays; the others are gone
        assertEquals(1, mappingsOf(p));
        assertEquals(expected(900, 50)[49], view.get(49));
    }

    @Test
    void closeWaitsForALeaseHeldByAnotherThread() throws Exception {
        MappedFile f = MappedFile.open(file(1000), STEP, CHUNK);
        MappedRegion r = f.region(0, 100, ByteOrder.LITTLE_ENDIAN);
        f.acquire();
        ByteBuffer s = r.slice(0, 100);
        AtomicReference<Throwable> failed = new AtomicReference<>();
        Thread closer = new Thread(() -> {
            try {
                f.close();
            } catch (Throwable e) {
                failed.set(e);
            }
        });
        closer.start();
        closer.join(300);
        assertTrue(closer.isAlive(), "close returned while a lease was held");
        assertTrue(f.isClosed());
        byte[] got = new byte[100];
        s.get(got); // still mapped: the lease holds it
        assertArrayEquals(expected(0, 100), got);
        f.release();
        closer.join(10_000);
        assertFalse(closer.isAlive());
        assertEquals(null, failed.get());
        assertEquals(0, f.mappedWindows());
    }

    @Test
    void closeFromInsideALeaseFinishesWhenTheLeaseEnds() throws IOException {
        MappedFile f = MappedFile.open(file(1000), STEP, CHUNK);
        MappedRegion r = f.region(0, 100, ByteOrder.LITTLE_ENDIAN);
        f.acquire();
        ByteBuffer s = r.slice(0, 100);
        f.close(); // from the lease's own thread (a stream sink that closes): must not wait for itself
        assertThrows(IllegalStateException.class, f::acquire);
        assertEquals(1, f.mappedWindows());
        assertEquals(expected(0, 100)[99], s.get(99));
        f.release();
        assertEquals(0, f.mappedWindows());
        assertTrue(Arrays.equals(new byte[0], new byte[0]));
    }
}
