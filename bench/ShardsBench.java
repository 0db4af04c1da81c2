import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.Tensor;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The TorchBridge side of the multi-file benchmark (bench/shards-bench.sh, driven by
 * bench/shards_bench.py), run in a {@code -Xmx64m} JVM. Compiled by the script with javac against
 * cli/target/torchbridge.jar and run as {@code java -Xmx64m --add-modules jdk.incubator.vector
 * -cp JAR:CLASSES ShardsBench serve}.
 *
 * <p>Only the public reader API: {@link Checkpoint#open} on the logical checkpoint (the shard
 * index or the DCP directory), {@link Checkpoint#tensors()}, and each tensor's zero-copy
 * {@link Tensor#dataChunks()} (or {@link Tensor#stream} where a tensor's bytes are not in whole
 * 8-byte words per view), read from a plain fixed thread pool. No library support for parallel
 * reading is needed: a tensor's views are independent read-only buffers.
 *
 * <p>A timing server: one command per line on stdin, one answer per line on stdout ("ok ..." or
 * "error MESSAGE"); times are wall seconds of the work alone. After each run (outside its time) it
 * calls System.gc() and waits until the run's mappings are unmapped.
 * <pre>
 * open PATH          Checkpoint.open, tensors(), every tensor's info(), close: "ok SECONDS TENSORS BYTES"
 * read PATH THREADS  open, every byte of every tensor read once on THREADS threads (the wrapping
 *                    sum of its little-endian 8-byte words, Vector API, 16 MiB pieces), close:
 *                    "ok SECONDS TENSORS CHECKSUM BYTES"
 * mem                "ok HEAP_PEAK_BYTES HEAP_MAX_BYTES VMHWM_KB RSSANON_KB GCS"
 * version
 * quit
 * </pre>
 */
public class ShardsBench {
    static final int PIECE = 16 << 20;
    static final Map<Integer, ExecutorService> POOLS = new HashMap<>();

    public static void main(String[] args) throws Exception {
        Locale.setDefault(Locale.ROOT);
        if (args.length != 1 || !args[0].equals("serve")) {
            System.err.println("usage: ShardsBench serve   (commands on stdin; see the class comment)");
            System.exit(2);
        }
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line; (line = in.readLine()) != null; ) {
            String[] a = line.trim().split(" ");
            String reply;
            try {
                switch (a[0]) {
                    case "quit":
                        POOLS.values().forEach(ExecutorService::shutdown);
                        return;
                    case "open": {
                        long t0 = System.nanoTime();
                        int n = 0;
                        long bytes = 0;
                        try (Checkpoint c = Checkpoint.open(Path.of(a[1]))) {
                            for (Tensor t : c.tensors().values()) {
                                bytes += t.info().nbytes();
                                n++;
                            }
                        }
                        double s = (System.nanoTime() - t0) / 1e9;
                        cleanUp();
                        reply = String.format("ok %.6f %d %d", s, n, bytes);
                        break;
                    }
                    case "read": {
                        int threads = Integer.parseInt(a[2]);
                        ExecutorService pool = POOLS.computeIfAbsent(threads, k -> Executors.newFixedThreadPool(k, r -> {
                            Thread t = new Thread(r);
                            t.setDaemon(true); // the JVM ends when stdin does, quit or not
                            return t;
                        }));
                        long t0 = System.nanoTime();
                        long[] r;
                        int n;
                        try (Checkpoint c = Checkpoint.open(Path.of(a[1]))) {
                            n = c.tensors().size();
                            r = read(c, pool);
                        }
                        double s = (System.nanoTime() - t0) / 1e9;
                        cleanUp();
                        reply = String.format("ok %.6f %d %s %d", s, n, Long.toUnsignedString(r[0]), r[1]);
                        break;
                    }
                    case "mem": {
                        long peak = 0;
                        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
                            if (p.getType() == MemoryType.HEAP) {
                                peak += p.getPeakUsage().getUsed();
                            }
                        }
                        long gcs = 0;
                        for (var g : ManagementFactory.getGarbageCollectorMXBeans()) {
                            gcs += Math.max(0, g.getCollectionCount());
                        }
                        reply = String.format("ok %d %d %d %d %d", peak, Runtime.getRuntime().maxMemory(),
                                status("VmHWM"), status("RssAnon"), gcs);
                        break;
                    }
                    case "version":
                        reply = "ok " + System.getProperty("java.vm.name") + " " + System.getProperty("java.version")
                                + " heap " + (Runtime.getRuntime().maxMemory() >> 20) + " MiB";
                        break;
                    default:
                        reply = "error unknown command " + a[0];
                }
            } catch (Throwable e) { // the driver reports it and stops
                reply = ("error " + e).replace('\n', ' ');
            }
            System.out.println(reply);
            System.out.flush();
        }
    }

    /** Every byte of every tensor read once on the pool: {checksum, bytes}. */
    static long[] read(Checkpoint c, ExecutorService pool) throws Exception {
        List<Callable<Long>> tasks = new ArrayList<>();
        long bytes = 0;
        for (Tensor t : c.tensors().values()) {
            bytes += t.info().nbytes();
            List<ByteBuffer> chunks;
            try {
                chunks = t.dataChunks();
            } catch (IllegalStateException | UnsupportedOperationException e) {
                chunks = null; // not a plain strided view (or not mapped): stream its values
            }
            if (chunks == null || !wholeWords(chunks)) {
                tasks.add(() -> {
                    Summer s = new Summer();
                    t.stream(s::add);
                    return s.total();
                });
                continue;
            }
            for (ByteBuffer b : chunks) {
                for (int from = 0; from < b.limit(); from += PIECE) {
                    int start = from, end = (int) Math.min(b.limit(), (long) from + PIECE);
                    tasks.add(() -> sum(b, start, end));
                }
            }
        }
        long s = 0;
        for (Future<Long> r : pool.invokeAll(tasks)) {
            s += r.get();
        }
        return new long[] {s, bytes};
    }

    /** Every view but the last holds whole 8-byte words, so the pieces can be summed apart. */
    static boolean wholeWords(List<ByteBuffer> chunks) {
        for (int i = 0; i < chunks.size() - 1; i++) {
            if (chunks.get(i).limit() % 8 != 0) {
                return false;
            }
        }
        return true;
    }

    /** The same sum over pieces of any length, in order (for stream()). */
    static final class Summer {
        long acc, word;
        int have;

        void add(ByteBuffer b) {
            int i = b.position(), end = b.limit();
            for (; have != 0 && i < end; i++) {
                take(b.get(i));
            }
            int whole = i + (end - i) / 8 * 8;
            if (i < whole) {
                acc += sum(b, i, whole);
                i = whole;
            }
            for (; i < end; i++) {
                take(b.get(i));
            }
        }

        void take(byte v) {
            word |= (v & 0xFFL) << (8 * have);
            if (++have == 8) {
                acc += word;
                word = 0;
                have = 0;
            }
        }

        long total() {
            return acc + word;
        }
    }

    static final VectorSpecies<Long> SPECIES = LongVector.SPECIES_PREFERRED;

    /** The wrapping sum of the little-endian 8-byte words of b[from, to) (then single bytes). */
    static long sum(ByteBuffer b, int from, int to) {
        int step = SPECIES.vectorByteSize();
        LongVector a0 = LongVector.zero(SPECIES), a1 = LongVector.zero(SPECIES);
        int i = from;
        for (; i + 2 * step <= to; i += 2 * step) {
            a0 = a0.add(LongVector.fromByteBuffer(SPECIES, b, i, ByteOrder.LITTLE_ENDIAN));
            a1 = a1.add(LongVector.fromByteBuffer(SPECIES, b, i + step, ByteOrder.LITTLE_ENDIAN));
        }
        long s = a0.add(a1).reduceLanes(VectorOperators.ADD);
        ByteBuffer le = b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        for (; i + 8 <= to; i += 8) {
            s += le.getLong(i);
        }
        for (; i < to; i++) {
            s += b.get(i) & 0xFF;
        }
        return s;
    }

    /** A field of /proc/self/status in kB (0 where there is none). */
    static long status(String field) throws Exception {
        for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (l.startsWith(field + ":")) {
                return Long.parseLong(l.replaceAll("[^0-9]", ""));
            }
        }
        return 0;
    }

    static long mappedBuffers() {
        for (BufferPoolMXBean pool : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
            if (pool.getName().equals("mapped")) {
                return pool.getCount();
            }
        }
        return 0;
    }

    /** Frees the last run's garbage and waits (up to 10 s) until the JDK has unmapped every mapping. */
    static void cleanUp() throws InterruptedException {
        System.gc();
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (mappedBuffers() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(2);
            if (mappedBuffers() > 0) {
                System.gc();
            }
        }
    }
}
