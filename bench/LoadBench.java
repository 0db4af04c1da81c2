import io.torchbridge.libtorch.LoadReport;
import io.torchbridge.libtorch.StateDictLoader;
import io.torchbridge.reader.Checkpoint;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;

/**
 * TorchBridge's side of bench/load-bench.sh: builds the matching libtorch module (a stack of
 * Linear(4096, 4096) registered as "0", "1", ... as nn.Sequential names them), then times one load
 * and prints one line: CASE seconds rss_before peak_rss rss_after peak_heap (bytes).
 *
 *   javac -cp demo/target/torchbridge-demo.jar -d CLASSES bench/LoadBench.java
 *   java -Xmx64m -cp demo/target/torchbridge-demo.jar:CLASSES LoadBench CASE FILE N
 *
 * CASE-warm: the same after one untimed load of FILE.warmup (the first layer alone) into a
 * one-layer module, so the JVM's first-call costs are out of the clock.
 * Cases: copy            StateDictLoader.strict().load(module, ckpt): each parameter filled by
 *                        memcpy straight from the mapped file (the loader's default)
 *        zerocopy        the same with zeroCopy(true): every parameter becomes a copy-on-write
 *                        view of the file (Python's mmap=True + assign=True)
 *        zerocopy+touch  zerocopy, then every parameter read once (sum), so the mapped pages are in
 * The peak RSS is reset just before the clock starts (5 into /proc/self/clear_refs); the peak heap
 * is the sum of the heap pools' peak usage over the whole run.
 */
public class LoadBench {
    public static void main(String[] a) throws Exception {
        boolean warm = a[0].endsWith("-warm");
        String kase = a[0].replace("-warm", "");
        Path file = Path.of(a[1]);
        int n = Integer.parseInt(a[2]);
        Module model = linears(n);
        if (warm) {
            // One untimed load of the first layer alone into a one-layer module first: a JVM that
            // has loaded before (classes, JIT, JavaCPP's first calls), as a long-running service is.
            Module small = linears(1);
            try (Checkpoint ckpt = Checkpoint.open(Path.of(file + ".warmup"))) {
                loader(kase).load(small, ckpt);
            }
            small.close();
        }
        Files.writeString(Path.of("/proc/self/clear_refs"), "5");
        long before = status("VmRSS");
        long t0 = System.nanoTime();
        long sum = 0;
        try (Checkpoint ckpt = Checkpoint.open(file)) {
            LoadReport r = loader(kase).load(model, ckpt);
            int mapped = kase.equals("copy") ? 0 : 2 * n;
            if (r.loadedKeys().size() != 2 * n || r.mappedKeys().size() != mapped) {
                throw new AssertionError(r);
            }
        }
        if (kase.equals("zerocopy+touch")) {
            sum = touch(model);
        }
        double dt = (System.nanoTime() - t0) / 1e9;
        long peakHeap = 0;
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
            if (p.getType() == MemoryType.HEAP) {
                peakHeap += p.getPeakUsage().getUsed();
            }
        }
        System.out.printf("java/%s%s %.4f %d %d %d %d%n", kase, warm ? "-warm" : "", dt, before, status("VmHWM"), status("VmRSS"), peakHeap);
        if (sum == 42) {
            System.out.println(); // keeps the sum alive
        }
    }

    static Module linears(int n) {
        Module model = new Module();
        for (int i = 0; i < n; i++) {
            model.register_module(Integer.toString(i), new LinearImpl(4096, 4096));
        }
        return model;
    }

    static StateDictLoader loader(String kase) {
        return switch (kase) {
            case "copy" -> StateDictLoader.strict();
            case "zerocopy", "zerocopy+touch" -> StateDictLoader.builder().zeroCopy(true).build();
            default -> throw new IllegalArgumentException("unknown case " + kase);
        };
    }

    static long touch(Module model) {
        long s = 0;
        StringTensorDict params = model.named_parameters(true);
        try (NoGradGuard g = new NoGradGuard()) {
            for (long i = 0; i < params.size(); i++) {
                Tensor t = params.get(i).value().sum();
                s += (long) t.item_float();
                t.close();
            }
        }
        return s;
    }

    static long status(String key) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(key + ":")) {
                return Long.parseLong(line.substring(key.length() + 1).trim().split("\\s+")[0]) * 1024;
            }
        }
        throw new IllegalStateException(key);
    }
}
