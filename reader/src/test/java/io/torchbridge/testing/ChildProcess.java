package io.torchbridge.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Child processes that cannot hang a test run: every wait is bounded, and a child that outlives its
 * time is killed with all its descendants (a Python that started workers, a JVM that forked), then
 * the test fails naming the command and the timeout.
 */
public final class ChildProcess {
    /** How a finished child ended: its exit status and its output (stdout and stderr together). */
    public record Result(int exitCode, String output) {
    }

    private ChildProcess() {
    }

    /**
     * Runs {@code command} in {@code workDir} ({@code null}: the current one) and waits at most
     * {@code timeout}. The output goes to a temporary file, not a pipe, so a child that never
     * closes its output cannot block the wait.
     *
     * @throws AssertionError if the child does not finish in time (it and its descendants are killed)
     */
    public static Result run(List<String> command, Path workDir, Duration timeout) throws IOException, InterruptedException {
        Path log = Files.createTempFile("tb-child", ".log");
        try {
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
            if (workDir != null) {
                pb.directory(workDir.toFile());
            }
            Process p = pb.start();
            awaitExit(p, timeout, command, () -> tail(log));
            return new Result(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(log);
        }
    }

    /**
     * Waits at most {@code timeout} for {@code p} to exit; past it, kills {@code p} and its
     * descendants and throws an {@link AssertionError} naming {@code command}, the timeout and
     * what {@code detail} says (for example the child's output so far).
     */
    public static void awaitExit(Process p, Duration timeout, List<String> command, Detail detail)
            throws InterruptedException {
        if (p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            return;
        }
        killTree(p.toHandle());
        String more;
        try {
            more = detail.text();
        } catch (IOException e) {
            more = "(cannot read it: " + e + ")";
        }
        throw new AssertionError("timed out after " + timeout.toSeconds() + " s, killed with its descendants: "
                + shown(command) + (more.isEmpty() ? "" : "\n" + more));
    }

    /** Waits at most {@code timeout} for {@code p} to exit, as {@link #awaitExit(Process, Duration, List, Detail)}. */
    public static void awaitExit(Process p, Duration timeout, List<String> command) throws InterruptedException {
        awaitExit(p, timeout, command, () -> "");
    }

    /**
     * Kills {@code process} and every descendant with SIGKILL, children first so that none is
     * re-parented and missed, and waits (bounded) until they are gone.
     */
    public static void killTree(ProcessHandle process) {
        List<ProcessHandle> all = new java.util.ArrayList<>(process.descendants().toList());
        all.add(process);
        for (ProcessHandle h : all) {
            h.destroyForcibly();
        }
        for (ProcessHandle h : all) {
            try {
                h.onExit().get(10, TimeUnit.SECONDS);
            } catch (Exception e) {
                // gone already, or still dying: nothing more a test can do
            }
        }
    }

    /** Something more to say about a child that timed out. */
    @FunctionalInterface
    public interface Detail {
        String text() throws IOException;
    }

    /** The command as a line, each very long argument (a class path) cut short. */
    static String shown(List<String> command) {
        StringBuilder b = new StringBuilder();
        for (String a : command) {
            b.append(b.length() == 0 ? "" : " ").append(a.length() > 200 ? a.substring(0, 100) + "...(" + a.length()
                    + " chars)" : a);
        }
        return b.toString();
    }

    private static String tail(Path log) throws IOException {
        String s = Files.readString(log, StandardCharsets.UTF_8);
        return "output so far:\n" + (s.length() > 4000 ? "..." + s.substring(s.length() - 4000) : s);
    }
}
