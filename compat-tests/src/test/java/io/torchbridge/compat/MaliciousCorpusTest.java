package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.torchbridge.compat.MaliciousCorpusChild.Outcome;
import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.CheckpointException;
import io.torchbridge.testing.ChildProcess;
import io.torchbridge.testing.Repo;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * The malicious corpus (fixtures/malicious, written by generate.py with real Python and torch):
 * every file is refused by {@link Checkpoint#open(Path)} with the default options, with the kind its
 * manifest names (and, for DISALLOWED_GLOBAL, naming the global), in under a second, without an
 * OutOfMemoryError, StackOverflowError or any exception other than CheckpointException. And nothing
 * happened: the files the payloads would create do not exist, the directories they would delete
 * still do, and a child JVM that reads the whole corpus under -Xmx256m loads no class outside the
 * JDK, our own, Commons Compress and the one Pyrolite class the reader composes (never Pyrolite's
 * Unpickler, whose reflective constructors a fallback into it would reach).
 */
class MaliciousCorpusTest {
    /** Each open must finish within this. */
    static final long LIMIT_MS = 1_000;
    /** How long to keep waiting for an open that missed the limit, to tell slow from hung. */
    static final long GRACE_MS = 4_000;

    static final Path DIR = Repo.fixtures().resolve("malicious");
    static final List<String> ALLOWED_CLASS_PREFIXES = List.of(
            "java.", "javax.", "jdk.", "sun.", "com.sun.",            // the JDK
            "io.torchbridge.",                                      // our own
            "org.apache.commons.");                                 // Commons Compress
    /**
     * Exactly the Pyrolite classes the reader uses (reader/.../internal/pickle/package-info.java):
     * its stack. Not {@code net.razorvine.pickle.Unpickler}, nor its {@code objects} constructors.
     */
    static final Set<String> ALLOWED_PYROLITE_CLASSES = Set.of("net.razorvine.pickle.UnpickleStack");

    static boolean allowedClass(String cls) {
        return ALLOWED_PYROLITE_CLASSES.contains(cls) || ALLOWED_CLASS_PREFIXES.stream().anyMatch(cls::startsWith);
    }

    private static final Map<String, String> REPORT = Collections.synchronizedMap(new LinkedHashMap<>());

    /** One corpus file as MANIFEST.json describes it. */
    record Case(String file, List<String> kinds, String global, List<String> markers, List<String> canaries,
                String about, String torchVerdict) {
        Path path() {
            return DIR.resolve(file);
        }
    }

    static List<Case> cases() throws IOException {
        JsonNode root = new ObjectMapper().readTree(DIR.resolve("MANIFEST.json").toFile());
        List<Case> out = new ArrayList<>();
        for (JsonNode c : root.get("cases")) {
            JsonNode torch = c.get("torch_2_14");
            out.add(new Case(c.get("file").asText(), strings(c.get("kinds")),
                    c.get("global").isNull() ? null : c.get("global").asText(), strings(c.get("markers")),
                    strings(c.get("canaries")), c.get("about").asText(),
                    torch == null || torch.isNull() ? "not run" : torch.get("verdict").asText()));
        }
        return out;
    }

    private static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    @BeforeAll
    static void warmUp() throws IOException {
        // Class loading and the first JIT pass are not the file's fault: open a real checkpoint first.
        try (Checkpoint c = Checkpoint.open(Repo.fixture("2.14.1", "conj_neg.pt"))) {
            assertFalse(c.tensors().isEmpty());
        }
    }

    @AfterAll
    static void printReport() {
        StringBuilder sb = new StringBuilder("malicious corpus, per file: outcome (expected) time\n");
        REPORT.forEach((f, line) -> sb.append(String.format("  %-42s %s%n", f, line)));
        System.out.print(sb);
        try {
            Path target = Path.of("target");
            if (Files.isDirectory(target)) {
                Files.writeString(target.resolve("malicious-corpus-report.txt"), sb);
            }
        } catch (IOException e) {
            System.err.println("cannot write the report: " + e);
        }
    }

    @Test
    void theManifestListsExactlyTheCorpusFiles() throws IOException {
        Set<String> listed = new TreeSet<>();
        for (Case c : cases()) {
            assertTrue(listed.add(c.file()), c.file() + " is listed twice");
        }
        Set<String> present = new TreeSet<>();
        for (Path p : MaliciousCorpusChild.corpus(DIR)) {
            present.add(p.getFileName().toString());
        }
        assertEquals(listed, present);
        long total = 0;
        for (Path p : MaliciousCorpusChild.corpus(DIR)) {
            total += Files.size(p);
        }
        assertTrue(total < 1 << 20, "the corpus should stay under 1 MB; it is " + total + " bytes");
    }

    @TestFactory
    Stream<DynamicTest> everyFileIsRefusedWithTheRightKind() throws IOException {
        return cases().stream().map(c -> DynamicTest.dynamicTest(c.file(), c.path().toUri(), () -> check(c)));
    }

    private static void check(Case c) throws IOException {
        prepare(c);
        Outcome o = MaliciousCorpusChild.open(c.path(), LIMIT_MS + GRACE_MS);
        String expected = String.join("|", c.kinds()) + (c.global() != null ? " '" + c.global() + "'" : "");
        String got = describe(o);
        REPORT.put(c.file(), String.format("%-62s (expected %s) %s ms", got, expected,
                o.outcome().equals("timeout") ? ">" + o.millis() : String.valueOf(o.millis())));
        List<Executable> checks = new ArrayList<>();
        checks.add(() -> {
            if (!(o.thrown() instanceof CheckpointException e)) {
                fail(c.file() + " (" + c.about() + "): expected a CheckpointException of kind " + expected
                        + ", but " + got, o.thrown());
                return;
            }
            assertTrue(c.kinds().contains(e.kind().name()), () -> c.file() + ": expected kind " + expected
                    + " but got " + e.kind() + ": " + e.getMessage());
            if (e.kind() == CheckpointException.Kind.DISALLOWED_GLOBAL && c.global() != null) {
                assertTrue(e.getMessage().contains("'" + c.global() + "'"), () -> c.file()
                        + ": the refusal must name the global '" + c.global() + "': " + e.getMessage());
            }
        });
        checks.add(() -> assertTrue(o.millis() >= 0 && o.millis() <= LIMIT_MS && !o.outcome().equals("timeout"),
                () -> c.file() + ": took " + (o.outcome().equals("timeout") ? "more than " : "") + o.millis()
                        + " ms, over the " + LIMIT_MS + " ms limit"));
        checks.add(() -> nothingHappened(c));
        assertAll(c.file(), checks);
    }

    static String describe(Outcome o) {
        return switch (o.outcome()) {
            case "refused" -> o.detail() + ": " + firstLine(o.thrown().getMessage(), 200);
            case "accepted" -> "accepted (opened without an error)";
            case "timeout" -> "still running after " + o.millis() + " ms";
            default -> "threw " + o.thrown() + at(o.thrown());
        };
    }

    private static String at(Throwable t) {
        StackTraceElement[] st = t.getStackTrace();
        for (StackTraceElement e : st) {
            if (e.getClassName().startsWith("io.torchbridge.reader")) {
                return " at " + e;
            }
        }
        return st.length > 0 ? " at " + st[0] : "";
    }

    private static String firstLine(String s, int max) {
        if (s == null) {
            return "";
        }
        s = s.lines().findFirst().orElse("");
        return s.length() > max ? s.substring(0, max) + "..." : s;
    }

    /** Removes stale markers (a run of some other tool may have left one) and creates the canaries. */
    private static void prepare(Case c) throws IOException {
        for (String m : c.markers()) {
            Path p = Path.of(m);
            if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                deleteTree(p);
            } else {
                Files.deleteIfExists(p);
            }
        }
        for (String d : c.canaries()) {
            Files.createDirectories(Path.of(d).resolve("keep"));
        }
    }

    private static void nothingHappened(Case c) throws IOException {
        for (String m : c.markers()) {
            assertFalse(Files.exists(Path.of(m), LinkOption.NOFOLLOW_LINKS),
                    c.file() + ": the payload's marker " + m + " exists: something ran it");
        }
        for (String d : c.canaries()) {
            assertTrue(Files.isDirectory(Path.of(d).resolve("keep")),
                    c.file() + ": the canary directory " + d + " is gone: something ran the payload");
            deleteTree(Path.of(d));
        }
        assertEquals(0, ProcessHandle.current().children().count(), "a process was started");
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Collections.reverseOrder()).toList()) {
                Files.delete(q);
            }
        }
    }

    /**
     * Reads the whole corpus in a child JVM with a 256 MB heap and class-load logging: no class
     * outside the JDK, our own, Commons Compress and the Pyrolite classes the reader uses may be
     * loaded, in particular nothing the payloads name and not Pyrolite's Unpickler; no file refused with anything but a CheckpointException of an expected kind;
     * no process started; no marker created.
     */
    @Test
    void aChildJvmReadingTheCorpusLoadsNothingButTheJdkAndOurOwn(@TempDir Path tmp) throws Exception {
        List<Case> cases = cases();
        for (Case c : cases) {
            prepare(c);
        }
        // One child JVM reads the files in order; if a file kills it (an OutOfMemoryError that
        // escapes, a crash), that file is recorded as such and a new child goes on with the rest.
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> remaining = new ArrayList<>(MaliciousCorpusChild.corpus(DIR).stream()
                .map(p -> p.getFileName().toString()).toList());
        List<Path> logs = new ArrayList<>();
        StringBuilder all = new StringBuilder();
        for (int run = 0; !remaining.isEmpty(); run++) {
            Path log = tmp.resolve("class-load-" + run + ".log");
            Path out = tmp.resolve("child-" + run + ".out");
            logs.add(log);
            List<String> cmd = new ArrayList<>(List.of(java, "-Xmx256m", "-XX:+UseSerialGC",
                    "-Xlog:class+load=info:file=" + log + ":none", "-cp", System.getProperty("java.class.path"),
                    MaliciousCorpusChild.class.getName(), DIR.toString(), "5000"));
            cmd.addAll(remaining);
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
            ChildProcess.awaitExit(p, Duration.ofMinutes(10), cmd, () -> "its output:\n" + Files.readString(out));
            String text = Files.readString(out, StandardCharsets.UTF_8);
            all.append(text);
            for (String line : text.lines().toList()) {
                String[] f = line.split("\t");
                if (f[0].equals("RESULT")) {
                    remaining.remove(f[1]);
                }
            }
            if (!text.contains("\nDONE") && !remaining.isEmpty()) {
                String victim = remaining.remove(0);
                String tail = text.lines().filter(l -> !l.startsWith("RESULT")).reduce("", (a, b) -> a + " " + b);
                all.append("RESULT\t").append(victim).append("\tkilled-the-jvm\texit ").append(p.exitValue())
                        .append(":").append(tail.strip().replace('\t', ' ')).append("\t-1\n");
            }
        }
        String output = all.toString();

        // (1) the classes it loaded
        Set<String> foreign = new TreeSet<>();
        Set<String> ours = new TreeSet<>();
        int loaded = 0;
        List<String> logLines = new ArrayList<>();
        for (Path log : logs) {
            logLines.addAll(Files.readAllLines(log, StandardCharsets.UTF_8));
        }
        for (String line : logLines) {
            String cls = line.split(" ", 2)[0];
            if (cls.isEmpty()) {
                continue;
            }
            loaded++;
            if (!allowedClass(cls)) {
                foreign.add(cls);
            } else if (cls.startsWith("io.torchbridge.reader.") || cls.startsWith("net.razorvine.")) {
                ours.add(cls.replaceAll("\\$\\$Lambda.*", "\\$\\$Lambda"));
            }
        }
        final int loadedCount = loaded;
        // (2) what each file did under a 256 MB heap
        Map<String, Case> byFile = new LinkedHashMap<>();
        cases.forEach(c -> byFile.put(c.file(), c));
        List<String> wrong = new ArrayList<>();
        Set<String> seen = new TreeSet<>();
        for (String line : output.lines().toList()) {
            String[] f = line.split("\t");
            if (!f[0].equals("RESULT")) {
                continue;
            }
            seen.add(f[1]);
            Case c = byFile.get(f[1]);
            if (c == null) {
                wrong.add(f[1] + ": not in MANIFEST.json");
            } else if (!f[2].equals("refused") || !c.kinds().contains(f[3])) {
                wrong.add(f[1] + ": " + f[2] + " " + f[3] + " after " + f[4] + " ms (expected " + c.kinds() + ")");
            }
        }
        assertAll("child JVM, -Xmx256m",
                () -> assertTrue(loadedCount > 100, "the class-load log looks empty: " + loadedCount + " classes"),
                () -> assertTrue(ours.contains("io.torchbridge.reader.internal.pickle.PickleReader")
                        && ours.contains("net.razorvine.pickle.UnpickleStack"), "the log lacks the reader's own classes: "
                        + ours),
                () -> assertFalse(foreign.contains("net.razorvine.pickle.Unpickler"),
                        "Pyrolite's Unpickler was loaded: a path into its reflective constructors exists"),
                () -> assertTrue(foreign.isEmpty(), "classes outside the JDK, our own, Commons Compress and "
                        + ALLOWED_PYROLITE_CLASSES + " were loaded: " + foreign),
                () -> assertEquals(byFile.keySet(), seen, "files the child reported"),
                () -> assertTrue(wrong.isEmpty(), "files not refused as expected under -Xmx256m:\n  "
                        + String.join("\n  ", wrong) + "\n" + output.lines()
                        .filter(l -> l.startsWith("DETAIL")).reduce("", (a, b) -> a + b + "\n")),
                () -> assertFalse(output.lines().anyMatch(l -> l.startsWith("CHILDREN") && !l.equals("CHILDREN\t0")),
                        "a child JVM started a process"),
                () -> {
                    for (Case c : cases) {
                        nothingHappened(c);
                    }
                });
    }
}
