package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.Tensor;
import io.torchbridge.testing.ChildProcess;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The crash-safety test of {@link io.torchbridge.writer.CheckpointWriter#save}: a writer in a
 * child JVM ({@link CrashingWriter}) saves generation after generation of a 25 MB checkpoint to
 * one target and is killed with SIGKILL ({@code ProcessHandle.destroyForcibly()}, checked by the
 * exit status 128 + 9) at many points. After every kill the target is either absent (only while no save
 * has ever completed) or a complete checkpoint of one generation {@code g}, every value of it
 * checked against {@code g}, with {@code g} at least the last generation the child reported saved
 * (the rename is the commit point) and at most the last it started. The previous file is never
 * lost: once the target exists it exists after every later kill.
 *
 * <p>Kills are aimed, by seeded random choices, at: JVM start-up; pickling (after "saving G");
 * data writing (at a random byte offset, from the writer's progress callback); the flush and the
 * rename (after the last data byte); just after the commit ("saved G"); and any time in a cycle.
 * Where each kill actually landed is read from what it left (see {@link Landed}) and logged; the
 * test requires several different landing points, data writing among them. Delays adapt to the
 * phase durations measured in earlier cycles, so slow and fast disks are both covered.
 *
 * <p>While the child writes, a poller in this JVM opens the target again and again: no reader may
 * ever see a file there that fails to open or is not a complete generation, not only after kills.
 *
 * <p>A killed save leaves its temporary file ({@code .target.pt.<hex>.tmp}) beside the target:
 * that is allowed (the writer cannot delete it once killed, and it is never at the target path);
 * the test counts them, checks there is at most one per kill, and deletes them.
 *
 * <p>A kill -9 loses no data the kernel already holds, so this shows the rename protocol, not
 * durability across a power cut (the fsyncs, which this cannot observe).
 *
 * <p>At the end real PyTorch 2.14.1 loads the surviving file with {@code weights_only=True} and
 * checks it against its generation. Replay a run's kill plan with {@code -Dtorchbridge.seed=N}
 * (timing still varies); {@code -Dtorchbridge.crashKills=N} sets the number of kills.
 */
class CrashSafetyTest {
    static final int ROWS = 2048;
    static final int COLS = 3072;
    static final long W_BYTES = 4L * ROWS * COLS;
    static final int HISTORY = 30_000;
    static final int KILLS = Integer.getInteger("torchbridge.crashKills", 32);
    static final Pattern TEMP = Pattern.compile("\\.target\\.pt\\.[0-9a-f]+\\.tmp");

    @TempDir
    Path tmp;

    /** How a kill is aimed. */
    enum Aim {
        STARTUP, PICKLING, WRITING, FLUSH_AND_RENAME, AFTER_COMMIT, ANY_TIME
    }

    /** Where a kill landed, judged from the target and the leftover temporary file. */
    enum Landed {
        BEFORE_FIRST_SAVE("before the child's first save (JVM start)"),
        BEFORE_TEMP("after 'saving', before the temp file existed (pickling)"),
        TEMP_EMPTY("temp file created, nothing written"),
        WRITING("temp file partly written"),
        WRITTEN_NOT_RENAMED("temp file complete, not yet renamed (force or rename)"),
        RENAMED_NOT_RETURNED("renamed over the target, save() not yet returned (folder fsync)"),
        AFTER_COMMIT("after 'saved', before the next 'saving' (building the next tree)");

        final String text;

        Landed(String text) {
            this.text = text;
        }
    }

    /** Running means of the child's phases (ms), learnt from every complete cycle seen. */
    static final class Phases {
        double pickle = 20;
        double write = 30;
        double flush = 40;
        double cycle = 120;
        double startup = 300;
        int n;
        int cycles;
        int starts;

        void addStartup(double ms) {
            starts++;
            startup += (ms - startup) / starts;
        }

        void add(double p, double w, double f, double c) {
            n++;
            pickle += (p - pickle) / n;
            write += (w - write) / n;
            flush += (f - flush) / n;
            if (c > 0) {
                cycles++;
                cycle += (c - cycle) / cycles;
            }
        }

        @Override
        public String toString() {
            return String.format("start-up to first 'saving' %.1f ms, pickle %.1f ms, write %.1f ms, "
                    + "flush+rename %.1f ms, cycle %.1f ms (%d cycles)", startup, pickle, write, flush, cycle, n);
        }
    }

    /** What one child run printed. */
    static final class Run {
        long lastSaving = -1;
        long lastSaved = -1;
        final Map<Long, long[]> times = new TreeMap<>(); // g -> {saving, firstProgress, lastProgress, saved} ns
    }

    final AtomicLong savedEver = new AtomicLong(-1);   // highest "saved G" read so far
    final AtomicLong startedEver = new AtomicLong(-1); // highest "saving G" read so far
    final AtomicBoolean targetSeen = new AtomicBoolean();

    @Test
    void killedWriterNeverLeavesAPartialOrMissingTarget() throws Exception {
        long t0 = System.nanoTime();
        long seed = Long.getLong("torchbridge.seed", System.nanoTime() % 1_000_000_000L);
        System.out.println("CrashSafetyTest seed " + seed + " (replay with -Dtorchbridge.seed=" + seed + "), "
                + KILLS + " kills");
        Random rnd = new Random(seed);
        String cp = System.getProperty("java.class.path");
        System.out.println("CrashSafetyTest: child class path has " + cp.split(java.io.File.pathSeparator).length
                + " entries" + (cp.contains("test-classes") ? ", test-classes among them" : ""));
        Path writerHome = Path.of(CrashingWriter.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        assertTrue(Stream.of(cp.split(java.io.File.pathSeparator)).map(e -> Path.of(e).toAbsolutePath().normalize())
                        .anyMatch(writerHome.toAbsolutePath().normalize()::equals),
                "the child's class path holds CrashingWriter's " + writerHome + ": " + cp);

        Path dir = Files.createDirectories(tmp.resolve("ckpt"));
        Path logs = Files.createDirectories(tmp.resolve("logs"));
        Path target = dir.resolve("target.pt");

        // The kill plan: every aim several times, in a seeded order; the very first kill lands in
        // the very first save, while there is no target yet.
        List<Aim> plan = new ArrayList<>();
        for (int i = 0; plan.size() < KILLS - 1; i++) {
            plan.add(Aim.values()[i % Aim.values().length]);
        }
        Collections.shuffle(plan, rnd);
        plan.add(0, Aim.WRITING);

        Phases phases = new Phases();
        Map<Landed, Integer> landed = new TreeMap<>();
        Map<Aim, Integer> aims = new TreeMap<>();
        int temps = 0;
        long nextGeneration = 1;

        AtomicBoolean polling = new AtomicBoolean(true);
        AtomicReference<Throwable> pollFailure = new AtomicReference<>();
        AtomicLong polls = new AtomicLong();
        Thread poller = new Thread(() -> poll(target, polling, pollFailure, polls), "target-poller");
        poller.setDaemon(true);
        poller.start();
        ScheduledExecutorService killer = Executors.newSingleThreadScheduledExecutor();
        try {
            for (int kill = 0; kill < plan.size(); kill++) {
                Aim aim = plan.get(kill);
                int k = kill == 0 ? 0 : rnd.nextInt(2); // aim at this run's first save (cold JVM) or its second
                long first = nextGeneration;
                long aimed = first + k;
                double fraction = rnd.nextDouble();    // where in the aimed phase
                Path err = logs.resolve("child-" + kill + ".err");
                List<String> cmd = childCommand(target, first);
                Process p = new ProcessBuilder(cmd).redirectError(err.toFile()).start();
                long started = System.nanoTime();
                AtomicBoolean killed = new AtomicBoolean();
                Runnable doKill = () -> {
                    if (killed.compareAndSet(false, true)) {
                        // SIGKILL on Linux. Not p.destroyForcibly(): that also closes our end of the
                        // child's stdout, losing the lines it printed just before it died.
                        p.toHandle().destroyForcibly();
                    }
                };
                AtomicBoolean watchdogFired = new AtomicBoolean();
                var watchdog = killer.schedule(() -> {
                    watchdogFired.set(!killed.get());
                    doKill.run();
                }, 30, TimeUnit.SECONDS);
                if (aim == Aim.STARTUP) {
                    killer.schedule(doKill, (long) (fraction * phases.startup * 1000), TimeUnit.MICROSECONDS);
                }
                long offset = (long) (fraction * W_BYTES); // for WRITING: kill at this many bytes

                Run run = new Run();
                OutputStream stdin = p.getOutputStream(); // held open: the child exits when it closes
                try (stdin; BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    for (String line; (line = out.readLine()) != null; ) {
                        long now = System.nanoTime();
                        String[] f = line.split(" ");
                        long g = Long.parseLong(f[1]);
                        long[] t = run.times.computeIfAbsent(g, x -> new long[4]);
                        switch (f[0]) {
                            case "saving" -> {
                                t[0] = now;
                                if (run.lastSaving < 0) {
                                    phases.addStartup((now - started) / 1e6);
                                }
                                run.lastSaving = g;
                                startedEver.accumulateAndGet(g, Math::max);
                                if (g == aimed && aim == Aim.PICKLING) {
                                    killer.schedule(doKill, (long) (fraction * phases.pickle * 1000), TimeUnit.MICROSECONDS);
                                } else if (g == aimed && aim == Aim.ANY_TIME) {
                                    killer.schedule(doKill, (long) (fraction * phases.cycle * 1000), TimeUnit.MICROSECONDS);
                                }
                            }
                            case "progress" -> {
                                long bytes = Long.parseLong(f[2]);
                                if (t[1] == 0) {
                                    t[1] = now;
                                }
                                if (g == aimed && aim == Aim.WRITING && bytes >= offset) {
                                    doKill.run();
                                }
                                if (bytes >= W_BYTES) { // the last data chunk: next come the small records, force, rename
                                    t[2] = now;
                                    if (g == aimed && aim == Aim.FLUSH_AND_RENAME) {
                                        killer.schedule(doKill, (long) (fraction * 1.2 * phases.flush * 1000),
                                                TimeUnit.MICROSECONDS);
                                    }
                                }
                            }
                            case "saved" -> {
                                t[3] = now;
                                run.lastSaved = g;
                                savedEver.accumulateAndGet(g, Math::max);
                                if (g == aimed && aim == Aim.AFTER_COMMIT) {
                                    doKill.run();
                                }
                            }
                            default -> fail("unexpected line from the child: " + line);
                        }
                    }
                } finally {
                    doKill.run(); // a no-op unless this loop failed: no child outlives its turn
                }
                ChildProcess.awaitExit(p, Duration.ofSeconds(30), cmd, () -> "child stderr:\n" + Files.readString(err));
                watchdog.cancel(false);
                String childErr = Files.readString(err);
                assertFalse(watchdogFired.get(), "kill " + kill + " (" + aim + " at generation " + aimed
                        + ") never triggered within 30 s; child stderr:\n" + childErr);
                assertEquals(128 + 9, p.exitValue(), "kill " + kill + ": the child must die of SIGKILL, not exit; "
                        + "child stderr:\n" + childErr);
                long killedAfterMs = (System.nanoTime() - started) / 1_000_000;

                // Learn the phase durations from this run's complete cycles.
                for (Map.Entry<Long, long[]> e : run.times.entrySet()) {
                    long[] t = e.getValue();
                    long[] next = run.times.get(e.getKey() + 1);
                    if (t[0] != 0 && t[1] != 0 && t[2] != 0 && t[3] != 0) {
                        phases.add((t[1] - t[0]) / 1e6, (t[2] - t[1]) / 1e6, (t[3] - t[2]) / 1e6,
                                next != null && next[0] != 0 ? (next[0] - t[0]) / 1e6 : -1);
                    }
                }

                // The temporary file this kill may have left.
                List<Path> left = new ArrayList<>();
                try (Stream<Path> files = Files.list(dir)) {
                    for (Path f : (Iterable<Path>) files::iterator) {
                        String name = f.getFileName().toString();
                        if (name.equals("target.pt")) {
                            continue;
                        }
                        assertTrue(TEMP.matcher(name).matches(), "unexpected file beside the target: " + name);
                        left.add(f);
                    }
                }
                assertTrue(left.size() <= 1, "one killed save leaves at most one temp file: " + left);

                // The invariant.
                Long found = null;
                if (!Files.exists(target)) {
                    assertEquals(-1, savedEver.get(), "kill " + kill + ": the target is missing although generation "
                            + savedEver.get() + " was reported saved");
                    assertFalse(targetSeen.get(), "kill " + kill + ": the target existed before and is gone");
                } else {
                    targetSeen.set(true);
                    found = checkComplete(target, "after kill " + kill + " (" + aim + ")");
                    assertTrue(found >= savedEver.get(), "kill " + kill + ": the target holds generation " + found
                            + " but generation " + savedEver.get() + " was reported saved (the rename commits)");
                    assertTrue(found <= startedEver.get(), "kill " + kill + ": generation " + found
                            + " was never started");
                }

                Landed where = where(run, found, left.isEmpty() ? null : left.get(0));
                landed.merge(where, 1, Integer::sum);
                aims.merge(aim, 1, Integer::sum);
                System.out.printf("kill %2d: aimed %-16s at g%d (%.2f), landed %-20s target g%s, run g%d..: "
                                + "last started g%d, last saved g%d, temp %s, after %d ms%n", kill, aim, aimed, fraction,
                        where, found == null ? "-" : found, first, run.lastSaving, run.lastSaved,
                        left.isEmpty() ? "-" : Files.size(left.get(0)) + " B", killedAfterMs);
                for (Path f : left) {
                    Files.delete(f);
                    temps++;
                }
                Files.delete(err);
                if (pollFailure.get() != null) {
                    throw new AssertionError("a concurrent reader saw a bad target (by kill " + kill + ")",
                            pollFailure.get());
                }
                nextGeneration = Math.max(nextGeneration, startedEver.get() + 1);
            }
        } finally {
            killer.shutdownNow();
            polling.set(false);
            poller.join(10_000);
        }
        if (pollFailure.get() != null) {
            throw new AssertionError("a concurrent reader saw a bad target", pollFailure.get());
        }
        System.out.println("CrashSafetyTest: " + phases);
        System.out.println("CrashSafetyTest: aims " + aims + "; " + temps + " leftover temp files deleted; "
                + polls.get() + " concurrent opens of the target checked");
        assertTrue(polls.get() > 0, "the concurrent reader opened the target at least once");
        for (Map.Entry<Landed, Integer> e : landed.entrySet()) {
            System.out.printf("  %2d kills landed: %s%n", e.getValue(), e.getKey().text);
        }
        // Aimed kills land in pickling, in data writing and after the commit whatever the disk;
        // on a fast one (tmpfs: force is free) the flush window may be too short to hit.
        assertTrue(landed.containsKey(Landed.WRITING) && landed.size() >= 3,
                "the kills landed at too few points to mean much: " + landed + " (seed " + seed + ")");
        assertTrue(Files.exists(target), "some save completed in " + KILLS + " kills");
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(target), files.toList(), "only the target is left");
        }

        // Real PyTorch loads the survivor.
        long g = checkComplete(target, "at the end");
        System.out.printf("CrashSafetyTest: Java part %.1f s%n", (System.nanoTime() - t0) / 1e9);
        TorchMatrix.Torch torch = TorchMatrix.require("2.14.1");
        String said = torch.run(300, "-c", TORCH_CHECK, target.toString(), Long.toString(g), Integer.toString(ROWS),
                Integer.toString(COLS), Integer.toString(HISTORY)).trim();
        String last = said.substring(said.lastIndexOf('\n') + 1);
        assertEquals("OK generation " + g + " w[0]=" + fmt(CrashingWriter.w(g, 0)) + " w[-1]="
                        + fmt(CrashingWriter.w(g, (long) ROWS * COLS - 1)) + " b=" + fmt(CrashingWriter.b(g)[2])
                        + " history[-1]=" + CrashingWriter.history(g, HISTORY - 1), last,
                "torch 2.14.1 says:\n" + said);
        System.out.printf("CrashSafetyTest: torch agrees (%s); total %.1f s%n", last, (System.nanoTime() - t0) / 1e9);
    }

    private static String fmt(float v) {
        return Float.toString(v).replaceAll("\\.0$", "");
    }

    /** torch.load with weights_only=True, then every value against the generation. */
    static final String TORCH_CHECK = String.join("\n",
            "import sys, torch",
            "path, g, rows, cols, hist = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])",
            "sd = torch.load(path, weights_only=True)",
            "assert list(sd.keys()) == ['generation', 'w', 'b', 'history'], list(sd.keys())",
            "assert sd['generation'] == g, (sd['generation'], g)",
            "w = sd['w']",
            "assert w.dtype == torch.float32 and tuple(w.shape) == (rows, cols), (w.dtype, w.shape)",
            "expect = ((g * 31 + torch.arange(rows * cols, dtype=torch.int64)) % 65536).to(torch.float32).reshape(rows, cols)",
            "assert torch.equal(w, expect), 'w differs'",
            "b = sd['b']",
            "assert b.tolist() == [float(g), float(-g), g + 0.5], b.tolist()",
            "h = sd['history']",
            "assert h == [g + j / 4.0 for j in range(hist)], 'history differs'",
            "def f(v):",
            "    s = repr(float(v))",
            "    return s[:-2] if s.endswith('.0') else s",
            "print('OK generation %d w[0]=%s w[-1]=%s b=%s history[-1]=%r' % (sd['generation'], f(w[0, 0]),"
                    + " f(w[-1, -1]), f(b[2]), h[-1]))");

    private static List<String> childCommand(Path target, long first) {
        String java = ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        List<String> cmd = List.of(java, "-Xmx512m", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
                CrashingWriter.class.getName(), target.toString(), Long.toString(first), Integer.toString(ROWS),
                Integer.toString(COLS), Integer.toString(HISTORY));
        return cmd;
    }

    /** Opens {@code file} and checks every value against its generation, which it returns. */
    static long checkComplete(Path file, String when) throws IOException {
        return check(file, when, 1);
    }

    /**
     * Opens {@code file} and checks its values against its generation, which it returns: every
     * {@code step}-th element of the big ones (and the last), all of the small ones.
     */
    static long check(Path file, String when, int step) throws IOException {
        Checkpoint opened;
        try {
            opened = Checkpoint.open(file);
        } catch (IOException e) {
            throw new AssertionError(when + ": " + file.getFileName() + " does not open: " + e, e);
        }
        try (Checkpoint c = opened) {
            assertEquals(List.of("w", "b"), c.names(), when);
            Object gv = c.value("generation");
            assertTrue(gv instanceof Long, when + ": generation is " + gv);
            long g = (Long) gv;
            Tensor w = c.tensor("w");
            assertEquals(List.of((long) ROWS, (long) COLS), toList(w.shape().toArray()), when + ": shape of w");
            float[] wv = w.toFloatArray();
            for (int i : indices(wv.length, step)) {
                if (wv[i] != CrashingWriter.w(g, i)) {
                    fail(when + ": generation " + g + " has w[" + i + "] = " + wv[i] + ", not " + CrashingWriter.w(g, i));
                }
            }
            float[] b = c.tensor("b").toFloatArray();
            assertTrue(java.util.Arrays.equals(CrashingWriter.b(g), b), when + ": b of generation " + g + " is "
                    + java.util.Arrays.toString(b));
            Object h = c.value("history");
            assertTrue(h instanceof List<?> l && l.size() == HISTORY, when + ": history");
            List<?> hl = (List<?>) h;
            for (int j : indices(HISTORY, step)) {
                if (!Double.valueOf(CrashingWriter.history(g, j)).equals(hl.get(j))) {
                    fail(when + ": generation " + g + " has history[" + j + "] = " + hl.get(j));
                }
            }
            return g;
        }
    }

    /** 0, step, 2 step, ... below n, and n - 1. */
    private static int[] indices(int n, int step) {
        return java.util.stream.IntStream.concat(java.util.stream.IntStream.iterate(0, i -> i < n, i -> i + step),
                java.util.stream.IntStream.of(n - 1)).toArray();
    }

    private static List<Long> toList(long[] a) {
        List<Long> l = new ArrayList<>();
        for (long v : a) {
            l.add(v);
        }
        return l;
    }

    /** Where the kill landed, from what the run printed and what it left. */
    static Landed where(Run run, Long found, Path temp) throws IOException {
        if (run.lastSaving < 0) {
            return Landed.BEFORE_FIRST_SAVE;
        }
        if (temp != null) {
            long size = Files.size(temp);
            if (size == 0) {
                return Landed.TEMP_EMPTY;
            }
            try {
                checkComplete(temp, "temp");
                return Landed.WRITTEN_NOT_RENAMED;
            } catch (Exception | AssertionError e) {
                return Landed.WRITING;
            }
        }
        if (found != null && found == run.lastSaving) {
            return run.lastSaved == run.lastSaving ? Landed.AFTER_COMMIT : Landed.RENAMED_NOT_RETURNED;
        }
        return Landed.BEFORE_TEMP;
    }

    /**
     * Opens the target as often as it can while children write: it must always be absent (before
     * any save completed) or a complete generation no older than the last reported saved.
     */
    private void poll(Path target, AtomicBoolean polling, AtomicReference<Throwable> failure, AtomicLong polls) {
        long lastSeen = -1;
        try {
            while (polling.get()) {
                long saved = savedEver.get();
                if (!Files.exists(target)) {
                    assertTrue(saved < 0 && !targetSeen.get(), "concurrent reader: the target is missing");
                } else {
                    targetSeen.set(true);
                    long g = check(target, "concurrent reader", 997); // sampled: it races the child for the CPU
                    assertTrue(g >= saved, "concurrent reader: generation " + g + " after " + saved + " was saved");
                    assertTrue(g >= lastSeen, "concurrent reader: generation " + g + " after " + lastSeen);
                    lastSeen = g;
                    polls.incrementAndGet();
                }
                Thread.sleep(20);
            }
        } catch (Throwable t) {
            failure.set(t);
        }
    }
}
