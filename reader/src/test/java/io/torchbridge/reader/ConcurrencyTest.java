package io.torchbridge.reader;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.testing.Repo;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** One checkpoint read from many threads, many checkpoints open at once, and closing under readers. */
class ConcurrencyTest {
    private static final Path FILE = Repo.fixture("2.14.1", "module_transformer.pt");

    private static Map<String, byte[]> readAll(Checkpoint c) {
        Map<String, byte[]> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : c.tensors().entrySet()) {
            out.put(e.getKey(), e.getValue().toByteArray());
        }
        return out;
    }

    @Test
    void oneCheckpointManyThreads() throws Exception {
        try (Checkpoint c = Checkpoint.open(FILE)) {
            Map<String, byte[]> expected = readAll(c);
            ExecutorService pool = Executors.newFixedThreadPool(8);
            CountDownLatch start = new CountDownLatch(1);
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                done.add(pool.submit(() -> {
                    start.await();
                    for (int i = 0; i < 100; i++) {
                        Map<String, byte[]> got = readAll(c);
                        for (String k : expected.keySet()) {
                            assertArrayEquals(expected.get(k), got.get(k), k);
                        }
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : done) {
                f.get(60, TimeUnit.SECONDS);
            }
            pool.shutdown();
        }
    }

    @Test
    void manyCheckpointsOpenAtOnce() throws Exception {
        List<Checkpoint> open = new ArrayList<>();
        try {
            for (int i = 0; i < 300; i++) {
                open.add(Checkpoint.open(FILE));
            }
            Map<String, byte[]> first = readAll(open.get(0));
            for (Checkpoint c : open) {
                Map<String, byte[]> got = readAll(c);
                assertEquals(first.keySet(), got.keySet());
                first.forEach((k, v) -> assertArrayEquals(v, got.get(k), k));
            }
        } finally {
            for (Checkpoint c : open) {
                c.close();
            }
        }
    }

    @Test
    void closingUnderReadersFailsCleanlyAndOldViewsStayReadable() throws Exception {
        Checkpoint c = Checkpoint.open(FILE);
        Tensor t = c.tensors().values().iterator().next();
        ByteBuffer before = t.data();
        byte[] expected = t.toByteArray();
        AtomicInteger reads = new AtomicInteger();
        List<Throwable> failures = new ArrayList<>();
        Thread reader = new Thread(() -> {
            try {
                while (true) {
                    assertArrayEquals(expected, t.toByteArray());
                    reads.incrementAndGet();
                }
            } catch (Throwable e) {
                synchronized (failures) {
                    failures.add(e);
                }
            }
        });
        reader.start();
        while (reads.get() < 100) {
            Thread.onSpinWait();
        }
        c.close();
        reader.join(10_000);
        assertEquals(1, failures.size());
        Throwable f = failures.get(0);
        assertTrue(f instanceof IllegalStateException && f.getMessage().contains("is closed"), String.valueOf(f));
        // A view taken before close still reads the right bytes; new access is refused.
        byte[] old = new byte[before.remaining()];
        before.duplicate().get(old);
        assertArrayEquals(expected, java.util.Arrays.copyOf(old, expected.length));
        IllegalStateException e = assertThrows(IllegalStateException.class, t::data);
        assertTrue(e.getMessage().contains("is closed"), e.getMessage());
    }

    @Test
    void closingFromInsideAStreamSinkLetsTheStreamFinishThenRefuses() throws Exception {
        Checkpoint c = Checkpoint.open(FILE);
        Tensor t = c.tensors().values().iterator().next();
        byte[] expected = t.toByteArray();
        java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
        t.stream(piece -> {
            try {
                c.close(); // must not wait for the very read it is called from
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            byte[] b = new byte[piece.remaining()];
            piece.get(b);
            got.writeBytes(b);
        });
        assertArrayEquals(expected, got.toByteArray());
        IllegalStateException e = assertThrows(IllegalStateException.class, t::toFloatArray);
        assertTrue(e.getMessage().contains("is closed"), e.getMessage());
    }
}
