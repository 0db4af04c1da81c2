package io.torchbridge.compat;

import io.torchbridge.writer.CheckpointWriter;
import io.torchbridge.writer.NewTensor;
import io.torchbridge.writer.WriteOptions;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The child process of {@link CrashSafetyTest}: saves generation after generation of one
 * checkpoint to the same target with {@link CheckpointWriter#save}, until it is killed.
 *
 * <p>Arguments: {@code target firstGeneration rows cols historyLength}. On stdout, one line per
 * event, flushed at once (so a line the parent has read was printed before the kill):
 * <pre>
 * saving G          the tree of generation G is built; save() is called next (pickling starts)
 * progress G BYTES  the writer's progress callback: BYTES of the temporary file written so far
 * saved G           save() returned: generation G was renamed over the target (the commit)
 * </pre>
 * It exits by itself when its standard input closes (the test JVM died), so no writer outlives
 * the test, after 10,000 generations, and after {@link #LIFETIME} (the parent kills it within
 * 30 s; a child still alive long after that has lost its parent's watchdog).
 *
 * <p>The content of generation {@code g} is a function of {@code g} alone ({@link #w}, {@link #b},
 * {@link #history}), so the parent can check a file it finds at the target completely.
 */
public final class CrashingWriter {
    /** The longest a child may live; its exit status then is 4, which the parent reports as a failure. */
    static final Duration LIFETIME = Duration.ofMinutes(5);

    private CrashingWriter() {
    }

    /** Element {@code i} of tensor {@code w} in generation {@code g}: integers below 2^16, exact in float32. */
    static float w(long g, long i) {
        return (float) ((g * 31 + i) % 65536);
    }

    /** Tensor {@code b} of generation {@code g}. */
    static float[] b(long g) {
        return new float[] {g, -g, g + 0.5f};
    }

    /** Element {@code j} of list {@code history}: exact doubles, pickled one by one (slow to pickle on purpose). */
    static double history(long g, int j) {
        return g + j / 4.0;
    }

    /** The tree saved as generation {@code g}. */
    static Map<String, Object> checkpoint(long g, int rows, int cols, int historyLength) {
        float[] wv = new float[Math.multiplyExact(rows, cols)];
        for (int i = 0; i < wv.length; i++) {
            wv[i] = w(g, i);
        }
        List<Object> hist = new ArrayList<>(historyLength);
        for (int j = 0; j < historyLength; j++) {
            hist.add(history(g, j));
        }
        Map<String, Object> tree = new LinkedHashMap<>();
        tree.put("generation", g);
        tree.put("w", NewTensor.of(wv, rows, cols));
        tree.put("b", NewTensor.of(b(g), 3));
        tree.put("history", hist);
        return tree;
    }

    public static void main(String[] args) throws IOException {
        Path target = Path.of(args[0]);
        long first = Long.parseLong(args[1]);
        int rows = Integer.parseInt(args[2]);
        int cols = Integer.parseInt(args[3]);
        int historyLength = Integer.parseInt(args[4]);

        Thread watchdog = new Thread(() -> {
            try {
                while (System.in.read() >= 0) {
                    // the parent never writes; wait for end of file
                }
            } catch (IOException e) {
                // treat as end of file
            }
            Runtime.getRuntime().halt(3);
        }, "stdin-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
        Thread deadline = new Thread(() -> {
            try {
                Thread.sleep(LIFETIME.toMillis());
            } catch (InterruptedException e) {
                return;
            }
            System.err.println("CrashingWriter: still alive after " + LIFETIME + "; exiting");
            Runtime.getRuntime().halt(4);
        }, "lifetime");
        deadline.setDaemon(true);
        deadline.start();

        PrintStream out = System.out;
        for (long g = first; g < first + 10_000; g++) {
            Map<String, Object> tree = checkpoint(g, rows, cols, historyLength);
            final long gen = g;
            WriteOptions options = WriteOptions.defaults().withProgress(bytes -> {
                out.println("progress " + gen + " " + bytes);
                out.flush();
            });
            out.println("saving " + g);
            out.flush();
            CheckpointWriter.save(tree, target, options);
            out.println("saved " + g);
            out.flush();
        }
    }
}
