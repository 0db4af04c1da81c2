package io.torchbridge.compat;

import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.CheckpointException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;

/**
 * The child JVM of {@link MaliciousCorpusTest}: opens every file of the malicious corpus with the
 * default options and prints one line per file, {@code RESULT <tab> file <tab> outcome <tab> detail
 * <tab> millis}, where outcome is {@code refused} (detail: the kind), {@code accepted},
 * {@code threw} (detail: the throwable's class) or {@code timeout}. Arguments: the corpus
 * directory, the most milliseconds to wait for one file, then the files (default: all). It uses nothing but the JDK and
 * the reader, so that the class-load log of this JVM shows exactly what reading the corpus loads.
 */
public final class MaliciousCorpusChild {
    private MaliciousCorpusChild() {
    }

    /** Outcome of one open: what came back, and how long it took. */
    record Outcome(String file, String outcome, String detail, long millis, Throwable thrown) {
        String line() {
            return "RESULT\t" + file + "\t" + outcome + "\t" + detail + "\t" + millis;
        }
    }

    /** Opens {@code file}, giving up waiting after {@code capMillis} (the worker thread is left behind). */
    static Outcome open(Path file, long capMillis) {
        String name = file.getFileName().toString();
        long t0 = System.nanoTime();
        CompletableFuture<Throwable> f = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                Checkpoint.open(file).close();
                f.complete(null);
            } catch (Throwable e) {
                f.complete(e);
            }
        }, "open " + name);
        t.setDaemon(true);
        t.start();
        Throwable e;
        try {
            e = f.get(capMillis, TimeUnit.MILLISECONDS);
        } catch (TimeoutException ex) {
            stop(t);
            return new Outcome(name, "timeout", "-", capMillis, null);
        } catch (Throwable ex) {
            // An OutOfMemoryError can strike this thread while the open fills the heap.
            stop(t);
            return new Outcome(name, "threw", ex.getClass().getName(), (System.nanoTime() - t0) / 1_000_000, ex);
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        if (e == null) {
            return new Outcome(name, "accepted", "-", ms, null);
        } else if (e instanceof CheckpointException ce) {
            return new Outcome(name, "refused", ce.kind().name(), ms, ce);
        }
        return new Outcome(name, "threw", e.getClass().getName(), ms, e);
    }

    /**
     * Ends a runaway open so it does not keep a core and its heap for the files after it:
     * Thread.stop where the JDK still has it (17 to 19), else the thread is left to run.
     */
    static void stop(Thread t) {
        t.interrupt();
        try {
            Thread.class.getMethod("stop").invoke(t);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return; // Thread.stop is unsupported from JDK 20 on
        }
        try {
            t.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static List<Path> corpus(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> {
                String n = p.getFileName().toString();
                return n.endsWith(".pt") || n.endsWith(".pkl");
            }).sorted().toList();
        }
    }

    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args[0]);
        long cap = args.length > 1 ? Long.parseLong(args[1]) : 10_000;
        List<Path> files = args.length > 2
                ? java.util.Arrays.stream(args, 2, args.length).map(dir::resolve).toList() : corpus(dir);
        for (Path p : files) {
            try {
                Outcome o = open(p, cap);
                System.out.println(o.line());
                if (o.thrown() != null && !(o.thrown() instanceof CheckpointException)) {
                    System.out.println("DETAIL\t" + o.file() + "\t" + String.valueOf(o.thrown()).replace('\n', ' '));
                }
            } catch (Throwable e) { // an OutOfMemoryError can reach this thread too; go on with the next file
                System.out.println("RESULT\t" + p.getFileName() + "\tthrew\t" + e.getClass().getName() + "\t-1");
            }
            System.out.flush();
            System.gc();
        }
        System.out.println("CHILDREN\t" + ProcessHandle.current().children().count());
        System.out.println("DONE");
        System.out.flush();
        System.exit(0);
    }
}
