import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.PyDict;
import io.torchbridge.reader.Tensor;
import io.torchbridge.writer.CheckpointWriter;
import io.torchbridge.writer.NewTensor;
import io.torchbridge.writer.WriteOptions;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The TorchBridge side of the scaling benchmark (bench/scale-bench.sh, driven by
 * bench/scale_bench.py). A single-file program, run as
 * {@code java --add-modules jdk.incubator.vector -cp cli/target/torchbridge.jar bench/ScaleBench.java serve}.
 *
 * <p>A timing server with the protocol of bench/torch_scale.py: one command per line on stdin, one
 * answer per line on stdout ("ok ..." or "error MESSAGE"); times are wall seconds of the work alone.
 * After a run (outside its time) it calls System.gc() and waits until the run's mappings are unmapped,
 * so nothing of one run is freed inside the next one, and the driver's eviction of the file from the
 * page cache is not blocked by a mapping still alive.
 * <pre>
 * open PATH        Checkpoint.open, tensors(), every tensor's info() (dtype, shape, bytes), close:
 *                  "ok SECONDS TENSORS BYTES RECORDS"
 * touch PATH       open, every byte of every tensor read once through data() (the wrapping sum of
 *                  its little-endian 8-byte words, Vector API, 16 MiB pieces on all cores), close:
 *                  "ok SECONDS TENSORS CHECKSUM"
 * small N          N float[64] tensors in the heap (as torch_scale.py's), for save: "ok"
 * load PATH        every tensor of PATH copied into a float[] (toFloatArray), for save: "ok"
 * save OUT         CheckpointWriter.save of what small/load made, without fsync (as torch.save): "ok SECONDS"
 * drop             forgets what small/load made: "ok"
 * quit
 * </pre>
 */
public class ScaleBench {
    static final int SMALL = 64;
    static final int PIECE = 16 << 20;
    static final ExecutorService POOL = Executors.newFixedThreadPool(Runtime.getRuntime().availableProcessors());

    public static void main(String[] args) throws Exception {
        Locale.setDefault(Locale.ROOT);
        if (args.length != 1 || !args[0].equals("serve")) {
            System.err.println("usage: ScaleBench serve   (commands on stdin; see the class comment)");
            System.exit(2);
        }
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        PyDict kept = null;
        for (String line; (line = in.readLine()) != null; ) {
            String[] a = line.trim().split(" ");
            String reply;
            try {
                switch (a[0]) {
                    case "quit":
                        POOL.shutdown();
                        return;
                    case "open": {
                        Path p = Path.of(a[1]);
                        long t0 = System.nanoTime();
                        int n = 0, records;
                        long bytes = 0;
                        try (Checkpoint c = Checkpoint.open(p)) {
                            for (Tensor t : c.tensors().values()) {
                                bytes += t.info().nbytes();
                                n++;
                            }
                            records = c.records().size();
                        }
                        double s = (System.nanoTime() - t0) / 1e9;
                        cleanUp();
                        reply = String.format("ok %.6f %d %d %d", s, n, bytes, records);
                        break;
                    }
                    case "touch": {
                        Path p = Path.of(a[1]);
                        long t0 = System.nanoTime();
                        long sum;
                        int n;
                        try (Checkpoint c = Checkpoint.open(p)) {
                            n = c.tensors().size();
                            sum = touch(c);
                        }
                        double s = (System.nanoTime() - t0) / 1e9;
                        cleanUp();
                        reply = String.format("ok %.6f %d %s", s, n, Long.toUnsignedString(sum));
                        break;
                    }
                    case "small": {
                        kept = null;
                        int n = Integer.parseInt(a[1]);
                        SplittableRandom r = new SplittableRandom(n);
                        Map<Object, Object> sd = new LinkedHashMap<>();
                        String[] kinds = {"weight", "bias", "scale", "shift"};
                        for (int i = 0; i < n; i++) {
                            float[] v = new float[SMALL];
                            for (int j = 0; j < SMALL; j++) {
                                v[j] = (float) r.nextDouble(-2, 2);
                            }
                            sd.put("blocks." + i / 4 + "." + kinds[i % 4], NewTensor.of(v, SMALL));
                        }
                        kept = new PyDict(PyDict.ORDERED_DICT, sd, Map.of());
                        reply = "ok";
                        break;
                    }
                    case "load": {
                        kept = null;
                        System.gc();
                        Map<Object, Object> sd = new LinkedHashMap<>();
                        try (Checkpoint c = Checkpoint.open(Path.of(a[1]))) {
                            for (Map.Entry<String, Tensor> e : c.tensors().entrySet()) {
                                sd.put(e.getKey(), NewTensor.of(e.getValue().toFloatArray(),
                                        e.getValue().shape().toArray()));
                            }
                        }
                        cleanUp();
                        kept = new PyDict(PyDict.ORDERED_DICT, sd, Map.of());
                        reply = "ok";
                        break;
                    }
                    case "save": {
                        long t0 = System.nanoTime();
                        CheckpointWriter.save(kept, Path.of(a[1]), WriteOptions.defaults().withFsync(false));
                        reply = String.format("ok %.6f", (System.nanoTime() - t0) / 1e9);
                        System.gc();
                        break;
                    }
                    case "drop":
                        kept = null;
                        System.gc();
                        reply = "ok";
                        break;
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

    /** Every byte of every tensor read once: 16 MiB pieces of each data() view summed on all cores. */
    static long touch(Checkpoint c) throws Exception {
        List<Callable<Long>> tasks = new ArrayList<>();
        for (Tensor t : c.tensors().values()) {
            ByteBuffer b = t.data();
            if (b.order() != ByteOrder.LITTLE_ENDIAN) {
                throw new IllegalStateException("expected little-endian data");
            }
            for (int from = 0; from < b.limit(); from += PIECE) {
                int start = from, end = (int) Math.min(b.limit(), (long) from + PIECE);
                tasks.add(() -> sum(b, start, end));
            }
        }
        long s = 0;
        for (Future<Long> r : POOL.invokeAll(tasks)) {
            s += r.get();
        }
        return s;
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
        for (; i + 8 <= to; i += 8) {
            s += b.getLong(i);
        }
        for (; i < to; i++) {
            s += b.get(i) & 0xFF;
        }
        return s;
    }

    static long mappedBuffers() {
        for (BufferPoolMXBean pool : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
            if (pool.getName().equals("mapped")) {
                return pool.getCount();
            }
        }
        return 0;
    }

    /**
     * Frees the last run's garbage and waits (up to 10 s) until the JDK has unmapped every mapping:
     * this server keeps none between commands, and a live one would keep its pages in the page
     * cache through the driver's eviction.
     */
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
