package io.torchbridge.reader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.testing.P;
import io.torchbridge.testing.ChildProcess;
import io.torchbridge.testing.Crafted;
import io.torchbridge.testing.Repo;
import io.torchbridge.reader.scan.Scan;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Opening and scanning checkpoints never loads Pyrolite's {@code Unpickler} (whose static
 * initializer fills a process-wide constructor registry, and whose {@code loads} would be an
 * unchecked way in) nor anything of {@code net.razorvine.pickle.objects}: a child JVM opens and
 * scans every torch 2.14 fixture and a protocol-0 pickle under {@code -Xlog:class+load}, and the
 * only Pyrolite classes it loads are those the reader composes.
 */
class PyroliteClassLoadTest {
    /** What the reader uses of Pyrolite: the stack, with its MARK sentinel. */
    static final Set<String> PYROLITE_CLASSES_USED = Set.of("net.razorvine.pickle.UnpickleStack");

    @Test
    void openingAndScanningLoadsNoUnpickler(@TempDir Path tmp) throws Exception {
        Path log = tmp.resolve("class-load.log");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = List.of(java, "-Xmx128m", "-XX:+UseSerialGC", "-Xlog:class+load=info:file=" + log + ":none",
                "-cp", System.getProperty("java.class.path"), Child.class.getName(),
                Repo.fixture("2.14.1", "x").getParent().toString(), tmp.toString());
        ChildProcess.Result child = ChildProcess.run(cmd, tmp, Duration.ofMinutes(2));
        String output = child.output();
        assertEquals(0, child.exitCode(), "the child JVM failed:\n" + output);
        assertTrue(output.contains("opened ") && output.contains("protocol 0 read"), output);

        Set<String> pyrolite = new TreeSet<>();
        Set<String> ours = new TreeSet<>();
        for (String line : Files.readAllLines(log, StandardCharsets.UTF_8)) {
            String cls = line.split(" ", 2)[0];
            if (cls.startsWith("net.razorvine.")) {
                pyrolite.add(cls);
            } else if (cls.startsWith("io.torchbridge.reader.")) {
                ours.add(cls);
            }
        }
        assertTrue(ours.contains("io.torchbridge.reader.internal.pickle.PickleReader")
                && ours.contains("io.torchbridge.reader.internal.pickle.PickleScanner"),
                "the log lacks the reader's own classes (is class-load logging working?): " + ours);
        assertFalse(pyrolite.contains("net.razorvine.pickle.Unpickler"), "Pyrolite's Unpickler was loaded");
        assertTrue(pyrolite.stream().noneMatch(c -> c.startsWith("net.razorvine.pickle.objects.")),
                "Pyrolite's constructor classes were loaded: " + pyrolite);
        assertEquals(PYROLITE_CLASSES_USED, pyrolite, "the Pyrolite classes loaded");
    }

    /** The child JVM: opens and scans every fixture in {@code args[0]}, then a protocol-0 pickle. */
    public static final class Child {
        private Child() {
        }

        public static void main(String[] args) throws IOException {
            int n = 0;
            try (Stream<Path> s = Files.list(Path.of(args[0]))) {
                for (Path f : s.filter(f -> f.toString().endsWith(".pt")).sorted().toList()) {
                    try (Checkpoint c = Checkpoint.open(f)) {
                        c.root();
                        n++;
                    }
                    Scan.scan(f);
                }
            }
            System.out.println("opened " + n + " fixtures");
            // Protocol 0 and 1: the text opcodes and BINFLOAT, which Pyrolite used to decode.
            byte[] pickle = P.raw().mark().op('S').line("'caf\\xc3\\xa9'").op('V').line("\\u263a")
                    .op('F').line("0.5").op('G').raw(0x3f, 0xf8, 0, 0, 0, 0, 0, 0).op('I').line("01")
                    .op('p').line("0").op('g').line("0").op('l').stop().bytes();
            Object v = Crafted.root(Path.of(args[1]), pickle);
            if (!v.equals(List.of("café", "\u263a", 0.5, 1.5, true, true))) {
                throw new AssertionError("protocol 0 read as " + v);
            }
            Scan.scan(Crafted.checkpoint(pickle).write(Path.of(args[1]), "p0.pt"));
            System.out.println("protocol 0 read");
        }
    }
}
