package io.torchbridge.testing;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

/** The bounded child process every test uses: output, exit status, and a hung child with its children killed. */
@EnabledOnOs({OS.LINUX, OS.MAC})
class ChildProcessTest {
    @TempDir
    Path dir;

    @Test
    void aFinishedChildGivesItsExitStatusAndOutput() throws Exception {
        ChildProcess.Result r = ChildProcess.run(List.of("sh", "-c", "echo out; echo err >&2; exit 3"), dir,
                Duration.ofSeconds(30));
        assertEquals(3, r.exitCode());
        assertTrue(r.output().contains("out") && r.output().contains("err"), r.output());
    }

    @Test
    void aHungChildIsKilledWithItsDescendantsAndTheFailureNamesCommandAndTimeout() throws Exception {
        Path pid = dir.resolve("grandchild.pid");
        // The grandchild keeps the output open and would outlive a kill of its parent alone.
        List<String> cmd = List.of("sh", "-c", "sleep 300 & echo $! > " + pid + "; echo started; wait");
        long t0 = System.nanoTime();
        AssertionError e = assertThrows(AssertionError.class, () -> ChildProcess.run(cmd, dir, Duration.ofSeconds(2)));
        assertTrue((System.nanoTime() - t0) / 1e9 < 30, "the wait is bounded");
        assertTrue(e.getMessage().contains("timed out after 2 s") && e.getMessage().contains("sleep 300"), e.getMessage());
        assertTrue(e.getMessage().contains("started"), "the output so far: " + e.getMessage());
        long grandchild = Long.parseLong(Files.readString(pid).strip());
        // Bounded: a grandchild that was not killed would only exit after its 300 s.
        ProcessHandle.of(grandchild).ifPresent(h -> assertDoesNotThrow(() -> h.onExit().get(10, TimeUnit.SECONDS),
                "the grandchild is killed"));
    }

    @Test
    void aLongArgumentIsCutShortInTheMessage() {
        String cp = "x".repeat(5000);
        String shown = ChildProcess.shown(List.of("java", "-cp", cp, "Main"));
        assertTrue(shown.startsWith("java -cp xxx") && shown.endsWith("...(5000 chars) Main"), shown);
    }
}
