import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.PyDict;
import io.torchbridge.reader.Tensor;
import io.torchbridge.writer.CheckpointWriter;
import io.torchbridge.writer.NewTensor;
import io.torchbridge.writer.WriteOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The TorchBridge side of bench/write-bench.sh (a single-file program; run with the CLI jar on
 * the class path).
 *
 *   arrays SRC OUT_DIR REPEAT   the state_dict as float[]s in the heap, saved as NewTensors
 *                               (with fsync, then without)
 *   convert SRC OUT_DIR REPEAT  the read checkpoint's tensors saved straight from the mapping
 *                               (run with -Xmx64m: the data never enters the heap)
 * Prints one line "CASE SECONDS" per timed run, after one untimed warm-up.
 */
public class WriteBench {
    public static void main(String[] args) throws Exception {
        Path src = Path.of(args[1]);
        Path outDir = Path.of(args[2]);
        int repeat = Integer.parseInt(args[3]);
        Path out = outDir.resolve("ours.pt");
        if (args[0].equals("arrays")) {
            Map<Object, Object> sd = new LinkedHashMap<>();
            try (Checkpoint c = Checkpoint.open(src)) {
                for (Map.Entry<String, Tensor> e : c.tensors().entrySet()) {
                    sd.put(e.getKey(), NewTensor.of(e.getValue().toFloatArray(), e.getValue().shape().toArray()));
                }
            }
            PyDict tree = new PyDict(PyDict.ORDERED_DICT, sd, Map.of());
            time("ours.fsync", repeat, () -> CheckpointWriter.save(tree, out), out);
            time("ours.nofsync", repeat, () -> CheckpointWriter.save(tree, out, WriteOptions.defaults().withFsync(false)), out);
        } else {
            try (Checkpoint c = Checkpoint.open(src)) {
                time("convert.fsync", repeat, () -> CheckpointWriter.save(c.root(), out), out);
                time("convert.nofsync", repeat,
                        () -> CheckpointWriter.save(c.root(), out, WriteOptions.defaults().withFsync(false)), out);
            }
            System.out.println("heap.max " + Runtime.getRuntime().maxMemory());
        }
    }

    interface Run {
        void run() throws Exception;
    }

    static void time(String name, int repeat, Run r, Path out) throws Exception {
        for (int i = -1; i < repeat; i++) {
            // Start each run with no dirty pages queued, so one run's writeback does not throttle the next.
            new ProcessBuilder("sync").inheritIO().start().waitFor();
            long t0 = System.nanoTime();
            r.run();
            double s = (System.nanoTime() - t0) / 1e9;
            if (i >= 0) {
                System.out.printf("%s %.4f%n", name, s);
            }
            Files.delete(out);
        }
    }
}
