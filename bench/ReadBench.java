import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.Tensor;
import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * TorchBridge side of the read benchmark (bench/read-bench.sh runs it). A single-file program:
 *
 * <pre>
 * J="java --add-modules jdk.incubator.vector -cp cli/target/torchbridge.jar"
 * $J bench/ReadBench.java run    FILE OUT REPEAT   # all cases (give it a big heap)
 * $J bench/ReadBench.java touch  FILE OUT REPEAT   # the touch cases only (for -Xmx64m)
 * $J bench/ReadBench.java report FILE TORCH JAVA JAVA64   # the table, from the key=value files
 * </pre>
 *
 * Every case runs in this process, after warm-up runs of the same case (JIT), REPEAT timed runs,
 * median and min written to OUT as key=value lines. Between runs (outside the timing) it calls
 * System.gc() and waits until the last run's mappings are unmapped, so every run maps the file
 * afresh and pays its page faults, as torch.load(mmap=True) does on every load.
 */
public class ReadBench {
    static final int THREADS = Runtime.getRuntime().availableProcessors();
    static final int PIECE = 16 << 20; // bytes per parallel touch task
    static volatile long sink;

    public static void main(String[] args) throws Exception {
        Locale.setDefault(Locale.ROOT);
        if (args.length == 4 && args[0].equals("run")) {
            run(Path.of(args[1]), Path.of(args[2]), Integer.parseInt(args[3]), false);
        } else if (args.length == 4 && args[0].equals("touch")) {
            run(Path.of(args[1]), Path.of(args[2]), Integer.parseInt(args[3]), true);
        } else if (args.length == 5 && args[0].equals("report")) {
            report(Path.of(args[1]), load(args[2]), load(args[3]), load(args[4]));
        } else {
            System.err.println("usage: ReadBench run|touch FILE OUT REPEAT  |  report FILE TORCH JAVA JAVA64");
            System.exit(2);
        }
    }

    interface Case {
        long run() throws Exception;
    }

    /** Warm-up runs, then timed runs; returns the sorted times in seconds and records them. */
    static double[] time(Properties out, String key, int warmup, int repeat, Case c) throws Exception {
        long mapped = mappedBuffers();
        long check = 0;
        for (int i = 0; i < warmup; i++) {
            check = c.run();
            cleanUp(mapped);
        }
        double[] t = new double[repeat];
        for (int i = 0; i < repeat; i++) {
            long t0 = System.nanoTime();
            long r = c.run();
            t[i] = (System.nanoTime() - t0) / 1e9;
            if (r != check) {
                throw new AssertionError(key + ": checksum changed between runs: " + check + " then " + r);
            }
            cleanUp(mapped);
        }
        String all = Arrays.toString(t);
        Arrays.sort(t);
        out.setProperty(key + ".median_s", String.format("%.6f", median(t)));
        out.setProperty(key + ".min_s", String.format("%.6f", t[0]));
        out.setProperty(key + ".all_s", all.substring(1, all.length() - 1).replace(" ", ""));
        out.setProperty(key + ".checksum", Long.toUnsignedString(check));
        System.err.printf("ReadBench: %-22s median %8.2f ms  min %8.2f ms  checksum %s%n", key,
                median(t) * 1e3, t[0] * 1e3, Long.toUnsignedString(check));
        sink += check;
        return t;
    }

    /**
     * The share of this checkpoint's mapped bytes that the kernel maps with 2 MiB page-table entries
     * (FilePmdMapped in /proc/self/smaps, over all mappings of the file): high when the file sits in
     * the page cache in 2 MiB folios, which makes faulting a mapping in cheap. -1 if unknown.
     * Called while one checkpoint of the file is open with all its pages touched.
     */
    static long pmdMappedPercent(Path file) {
        try {
            String name = " " + file.toRealPath();
            List<String> lines = Files.readAllLines(Path.of("/proc/self/smaps"));
            long rss = 0, pmd = 0;
            boolean in = false;
            for (String l : lines) {
                if (l.matches("^[0-9a-f]+-[0-9a-f]+ .*")) {
                    in = l.endsWith(name);
                } else if (in && l.startsWith("Rss:")) {
                    rss += Long.parseLong(l.replaceAll("\\D", ""));
                } else if (in && l.startsWith("FilePmdMapped:")) {
                    pmd += Long.parseLong(l.replaceAll("\\D", ""));
                }
            }
            return rss == 0 ? -1 : Math.round(100.0 * pmd / rss);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** The mapped buffers (FileChannel.map results) not yet unmapped. */
    static long mappedBuffers() {
        for (BufferPoolMXBean pool : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
            if (pool.getName().equals("mapped")) {
                return pool.getCount();
            }
        }
        return 0;
    }

    /**
     * Frees the last run's garbage and waits (up to 5 s) until the JDK's cleaner has unmapped its
     * mappings, so that neither a GC nor an munmap runs inside the next timed run (torch frees
     * what it loaded synchronously, also outside its clock).
     */
    static void cleanUp(long mappedBefore) throws InterruptedException {
        System.gc();
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (mappedBuffers() > mappedBefore && System.nanoTime() < deadline) {
            Thread.sleep(2);
        }
    }

    static double median(double[] sorted) {
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    static void run(Path file, Path outFile, int repeat, boolean touchOnly) throws Exception {
        Properties out = new Properties();
        out.setProperty("java_version", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        out.setProperty("max_heap_mib", Long.toString(Runtime.getRuntime().maxMemory() >> 20));
        out.setProperty("threads", Integer.toString(THREADS));
        long dataBytes = 0;
        int count = 0;
        try (Checkpoint c = Checkpoint.open(file)) {
            for (Tensor t : c.tensors().values()) {
                dataBytes += t.info().nbytes();
                count++;
            }
        }
        out.setProperty("data_bytes", Long.toString(dataBytes));
        out.setProperty("tensors", Integer.toString(count));
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        try {
            if (!touchOnly) {
                // Open: zip index + version/byteorder records + unpickling data.pkl; maps nothing.
                time(out, "open", 50, 31, () -> {
                    try (Checkpoint c = Checkpoint.open(file)) {
                        return c.tensors().size();
                    }
                });
            }
            // Open, then read every byte once through the zero-copy data() views: the wrapping sum
            // of all little-endian 8-byte words, with a plain ByteBuffer.getLong loop and with the
            // Vector API (jdk.incubator.vector), on one thread and on a pool of all cores.
            for (boolean vec : new boolean[] {false, true}) {
                Summer f = vec ? ReadBench::sumVector : ReadBench::sumScalar;
                String key = vec ? "touch_vec" : "touch";
                time(out, key + "_1t", 3, repeat, () -> {
                    try (Checkpoint c = Checkpoint.open(file)) {
                        long s = 0;
                        for (Tensor t : c.tensors().values()) {
                            ByteBuffer b = t.data();
                            s += f.sum(b, 0, b.limit());
                        }
                        return s;
                    }
                });
                time(out, key, 3, repeat, () -> {
                    try (Checkpoint c = Checkpoint.open(file)) {
                        return touchParallel(c, pool, f);
                    }
                });
            }
            if (touchOnly) {
                return;
            }
            // Open, then copy every tensor into a new float[] (only one array live at a time).
            time(out, "copy", 3, repeat, () -> {
                try (Checkpoint c = Checkpoint.open(file)) {
                    long s = 0;
                    for (Tensor t : c.tensors().values()) {
                        s += fold(t.toFloatArray());
                    }
                    return s;
                }
            });
            // The same with the tensors spread over a pool of all cores (one array per thread live).
            time(out, "copy_par", 3, repeat, () -> {
                try (Checkpoint c = Checkpoint.open(file)) {
                    List<Callable<Long>> tasks = new ArrayList<>();
                    for (Tensor t : c.tensors().values()) {
                        tasks.add(() -> fold(t.toFloatArray()));
                    }
                    long s = 0;
                    for (Future<Long> r : pool.invokeAll(tasks)) {
                        s += r.get();
                    }
                    return s;
                }
            });
            // Breakdown of the copy: the same checkpoint kept open and its mappings already faulted in.
            try (Checkpoint c = Checkpoint.open(file)) {
                touchParallel(c, pool, ReadBench::sumScalar);
                out.setProperty("pmd_mapped_pct", Long.toString(pmdMappedPercent(file)));
                time(out, "copy_prefaulted", 3, repeat, () -> {
                    long s = 0;
                    for (Tensor t : c.tensors().values()) {
                        s += fold(t.toFloatArray());
                    }
                    return s;
                });
                List<float[]> dst = new ArrayList<>();
                for (Tensor t : c.tensors().values()) {
                    dst.add(new float[(int) t.numel()]);
                }
                time(out, "copy_prefaulted_into", 3, repeat, () -> {
                    long s = 0;
                    int i = 0;
                    for (Tensor t : c.tensors().values()) {
                        float[] a = dst.get(i++);
                        t.data().asFloatBuffer().get(a);
                        s += fold(a);
                    }
                    return s;
                });
            }
            System.gc();
            // Java's own memcpy of the same number of bytes, heap to heap.
            if (dataBytes < Integer.MAX_VALUE - 8) {
                byte[] src = new byte[(int) dataBytes];
                byte[] dst = new byte[(int) dataBytes];
                new java.util.Random(0).nextBytes(src);
                time(out, "arraycopy", 2, repeat, () -> {
                    System.arraycopy(src, 0, dst, 0, src.length);
                    return dst[0] + dst[dst.length / 2] + dst[dst.length - 1];
                });
            }
        } finally {
            pool.shutdownNow();
            try (Writer w = Files.newBufferedWriter(outFile)) {
                out.store(w, null);
            }
        }
    }

    interface Summer {
        long sum(ByteBuffer b, int from, int to);
    }

    /** Reads every byte of {@code b[from, to)}: the wrapping sum of its little-endian 8-byte words. */
    static long sumScalar(ByteBuffer b, int from, int to) {
        long s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = from;
        for (; i + 32 <= to; i += 32) {
            s0 += b.getLong(i);
            s1 += b.getLong(i + 8);
            s2 += b.getLong(i + 16);
            s3 += b.getLong(i + 24);
        }
        return s0 + s1 + s2 + s3 + tail(b, i, to);
    }

    static final VectorSpecies<Long> SPECIES = LongVector.SPECIES_PREFERRED;

    /** The same sum with the Vector API: whole vectors of 8-byte words, two accumulators. */
    static long sumVector(ByteBuffer b, int from, int to) {
        int step = SPECIES.vectorByteSize();
        LongVector a0 = LongVector.zero(SPECIES), a1 = LongVector.zero(SPECIES);
        int i = from;
        for (; i + 2 * step <= to; i += 2 * step) {
            a0 = a0.add(LongVector.fromByteBuffer(SPECIES, b, i, ByteOrder.LITTLE_ENDIAN));
            a1 = a1.add(LongVector.fromByteBuffer(SPECIES, b, i + step, ByteOrder.LITTLE_ENDIAN));
        }
        return a0.add(a1).reduceLanes(VectorOperators.ADD) + tail(b, i, to);
    }

    /** The words, then single bytes, from {@code i} to {@code to}. */
    static long tail(ByteBuffer b, int i, int to) {
        long s = 0;
        for (; i + 8 <= to; i += 8) {
            s += b.getLong(i);
        }
        for (; i < to; i++) {
            s += b.get(i) & 0xFF;
        }
        return s;
    }

    /** The touch on all cores: each tensor's view cut into 16 MiB pieces, summed by a thread pool. */
    static long touchParallel(Checkpoint c, ExecutorService pool, Summer f) throws Exception {
        List<Callable<Long>> tasks = new ArrayList<>();
        for (Tensor t : c.tensors().values()) {
            ByteBuffer b = t.data();
            if (b.order() != ByteOrder.LITTLE_ENDIAN) {
                throw new IllegalStateException("expected little-endian data");
            }
            for (int from = 0; from < b.limit(); from += PIECE) {
                int start = from, end = (int) Math.min(b.limit(), (long) from + PIECE);
                tasks.add(() -> f.sum(b, start, end));
            }
        }
        long s = 0;
        for (Future<Long> r : pool.invokeAll(tasks)) {
            s += r.get();
        }
        return s;
    }

    static long fold(float[] a) {
        if (a.length == 0) {
            return 0;
        }
        return a.length + Float.floatToRawIntBits(a[0]) + 31L * Float.floatToRawIntBits(a[a.length / 2])
                + 961L * Float.floatToRawIntBits(a[a.length - 1]);
    }

    // ---------------------------------------------------------------- report

    static Properties load(String path) throws IOException {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(Path.of(path))) {
            p.load(r);
        }
        return p;
    }

    static double d(Properties p, String key) {
        String v = p.getProperty(key);
        return v == null ? Double.NaN : Double.parseDouble(v);
    }

    static void row(String what, Properties p, String key, long bytes) {
        double med = d(p, key + ".median_s"), min = d(p, key + ".min_s");
        if (Double.isNaN(med)) {
            System.out.printf("  %-62s %12s%n", what, "(not run)");
            return;
        }
        String rate = bytes > 0 ? String.format("%6.1f GB/s", bytes / med / 1e9) : "";
        System.out.printf("  %-62s %9.1f ms %9.1f ms  %s%n", what, med * 1e3, min * 1e3, rate);
    }

    static void target(String what, String value, boolean pass) {
        System.out.printf("  %-50s %-36s %s%n", what, value, pass ? "PASS" : "MISS");
    }

    /** Whether other processes took 10% of the machine or more while the benchmark ran. */
    static boolean isBusy(String othersPercent) {
        try {
            return Double.parseDouble(othersPercent) >= 10;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    static void report(Path file, Properties torch, Properties java, Properties small) {
        long bytes = Long.parseLong(java.getProperty("data_bytes"));
        String tt = torch.getProperty("torch_threads"), jt = java.getProperty("threads");
        String xmx = "-Xmx" + small.getProperty("max_heap_mib", "64") + "m";
        System.out.printf("TorchBridge read benchmark: %s%n", file);
        System.out.printf("  %s fp32 tensors, %d data bytes (%.3f GiB), file %d bytes, page cache warm%n",
                java.getProperty("tensors"), bytes, bytes / (double) (1L << 30), file.toFile().length());
        System.out.printf("  torch %s (%s intra-op threads); %s (heap %s MiB); %s cores%n",
                torch.getProperty("torch_version"), tt, java.getProperty("java_version"),
                java.getProperty("max_heap_mib"), jt);
        System.out.printf("  median and min of %s runs each (TorchBridge open: 31), in-process, after untimed warm-up"
                + " runs (torch 1, glibc-keeping torch.load 2, Java 3, open 50)%n", torch.getProperty("repeat"));
        System.out.printf("  page cache: %s%% of the mapped file bytes mapped with 2 MiB page-table entries"
                + " (large folios; low values make every mmap reader fault more)%n",
                java.getProperty("pmd_mapped_pct", "?"));
        String others = System.getProperty("bench.others", "?");
        System.out.printf("  other processes used %s%% of the CPUs while it ran%s%n", others,
                isBusy(others) ? "  WARNING: times are unreliable, rerun on a quiet machine" : "");
        System.out.printf("  touch = read every byte once: torch t.view(torch.int64).sum() per tensor; Java a sum of"
                + " getLong()s or Vector API loads over each data() view%n");
        System.out.println();
        System.out.printf("  %-62s %12s %12s  %s%n", "case", "median", "min", "rate (median)");
        row("torch.load(mmap=False)", torch, "torch_load", bytes);
        row("  the same, glibc keeping freed memory (MALLOC_*_THRESHOLD_)", torch, "torch_load_keepmem", bytes);
        row("torch.load(mmap=True) + touch (" + tt + " threads)", torch, "torch_mmap_touch", bytes);
        row("torch.load(mmap=True) + touch (1 thread)", torch, "torch_mmap_touch_1t", bytes);
        row("memcpy of the same bytes, in RAM (numpy.copyto, 1 thread)", torch, "memcpy", bytes);
        row("memcpy of the same bytes, in RAM (torch copy_, " + tt + " threads)", torch, "memcpy_torch", bytes);
        row("TorchBridge open (index + pickle; maps nothing)", java, "open", 0);
        row("TorchBridge open + touch, getLong (" + jt + " threads)", java, "touch", bytes);
        row("TorchBridge open + touch, getLong (1 thread)", java, "touch_1t", bytes);
        row("TorchBridge open + touch, Vector API (" + jt + " threads)", java, "touch_vec", bytes);
        row("TorchBridge open + touch, Vector API (1 thread)", java, "touch_vec_1t", bytes);
        row("TorchBridge open + touch, getLong, " + xmx + " JVM (" + jt + " threads)", small, "touch", bytes);
        row("TorchBridge open + touch, getLong, " + xmx + " JVM (1 thread)", small, "touch_1t", bytes);
        row("TorchBridge open + touch, Vector API, " + xmx + " JVM (" + jt + " threads)", small, "touch_vec", bytes);
        row("TorchBridge open + toFloatArray() of every tensor (1 thread)", java, "copy", bytes);
        row("  the same, tensors spread over " + jt + " threads", java, "copy_par", bytes);
        row("  toFloatArray(), checkpoint already open, pages mapped", java, "copy_prefaulted", bytes);
        row("  data().asFloatBuffer().get() into existing float[]s, mapped", java, "copy_prefaulted_into", bytes);
        row("Java System.arraycopy of the same bytes, in heap (1 thread)", java, "arraycopy", bytes);

        String torchSum = torch.getProperty("torch_mmap_touch_checksum", "?");
        boolean sumsAgree = true;
        for (String k : new String[] {"touch", "touch_1t", "touch_vec", "touch_vec_1t"}) {
            sumsAgree &= torchSum.equals(java.getProperty(k + ".checksum"));
        }
        boolean smallOk = small.getProperty("touch.median_s") != null
                && torchSum.equals(small.getProperty("touch.checksum"))
                && torchSum.equals(small.getProperty("touch_1t.checksum"));
        System.out.printf("%n  touch checksums (wrapping sum of all 8-byte words): torch %s; TorchBridge %s (all"
                + " Java touch runs %s)%n", torchSum, java.getProperty("touch.checksum"),
                sumsAgree && smallOk ? "equal to torch's" : "NOT ALL EQUAL TO TORCH'S");

        double open = d(java, "open.median_s");
        double touch = d(java, "touch.median_s"), touchVec = d(java, "touch_vec.median_s");
        double tTouch = d(torch, "torch_mmap_touch.median_s");
        double copy = d(java, "copy.median_s"), tLoad = d(torch, "torch_load.median_s");
        double memcpy = d(torch, "memcpy.median_s");
        System.out.printf("%n  %-50s %-36s %s%n", "target (medians)", "measured", "result");
        target("open <= 20 ms", String.format("%.2f ms", open * 1e3), open <= 0.020);
        target("open + touch (getLong) <= torch mmap + touch", String.format("%.1f / %.1f ms = %.2fx",
                touch * 1e3, tTouch * 1e3, touch / tTouch), touch <= tTouch);
        target("open + touch (Vector API) <= torch mmap + touch", String.format("%.1f / %.1f ms = %.2fx",
                touchVec * 1e3, tTouch * 1e3, touchVec / tTouch), touchVec <= tTouch);
        target("torch.load(mmap=False) / full copy >= 20", String.format("%.1f / %.1f ms = %.1fx", tLoad * 1e3,
                copy * 1e3, tLoad / copy), tLoad / copy >= 20);
        target("full copy / memcpy <= 2", String.format("%.1f / %.1f ms = %.2fx", copy * 1e3, memcpy * 1e3,
                copy / memcpy), copy / memcpy <= 2);
        target("open + touch works with " + xmx, smallOk ? String.format("OK, %.1f ms",
                d(small, "touch.median_s") * 1e3) : "FAIL", smallOk);
        System.out.println();
        System.out.printf("  for information: any copy is bounded by memcpy: torch.load / memcpy = %.1fx is the"
                + " most a full copy can beat torch.load by here%n", tLoad / memcpy);
        System.out.printf("  for information: torch.load with glibc keeping freed memory / full copy = %.2fx%n",
                d(torch, "torch_load_keepmem.median_s") / copy);
        System.out.printf("  for information: 1 thread each: open + touch / torch mmap + touch = %.2fx (getLong),"
                        + " %.2fx (Vector API)%n", d(java, "touch_1t.median_s") / d(torch, "torch_mmap_touch_1t.median_s"),
                d(java, "touch_vec_1t.median_s") / d(torch, "torch_mmap_touch_1t.median_s"));
        System.out.printf("  for information: with mins instead of medians: torch.load / full copy = %.1fx,"
                        + " full copy / memcpy = %.2fx%n", d(torch, "torch_load.min_s") / d(java, "copy.min_s"),
                d(java, "copy.min_s") / d(torch, "memcpy.min_s"));
    }
}
