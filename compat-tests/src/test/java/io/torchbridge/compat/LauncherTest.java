package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.testing.ChildProcess;
import io.torchbridge.testing.Repo;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code ./torchbridge} launcher run as a user runs it: through a symbolic link (in a bin
 * folder, say) and from another folder. It used to look for {@code ./mvnw} beside the link.
 */
class LauncherTest {
    @TempDir
    Path tmp;

    @Test
    void runsThroughASymbolicLinkFromAnyFolder() throws Exception {
        Path launcher = Repo.root().resolve("torchbridge");
        Path jar = Repo.root().resolve("cli/target/torchbridge.jar");
        // The reactor packaged the jar before these tests; a stale one would make the launcher
        // start a Maven build inside this one.
        assertTrue(Files.isRegularFile(jar), jar + " is built by the cli module's package phase");
        Path bin = Files.createDirectories(tmp.resolve("bin"));
        Path link = Files.createSymbolicLink(bin.resolve("torchbridge"), launcher);
        Path elsewhere = Files.createDirectories(tmp.resolve("elsewhere"));
        // a link to the link, relative: resolved step by step
        Path link2 = Files.createSymbolicLink(elsewhere.resolve("tb"), elsewhere.relativize(link));

        for (Path l : List.of(link, link2)) {
            Result r = run(elsewhere, l.toString(), "--version");
            assertEquals(0, r.exit, r.output);
            assertTrue(r.output.startsWith("torchbridge " + System.getProperty("torchbridge.version") + "\n"), r.output);
        }
        Result inspect = run(elsewhere, link.toString(), "inspect");
        assertEquals(0, inspect.exit, inspect.output);
        assertTrue(inspect.output.contains("training_adam.pt (bundled"), inspect.output);
    }

    private record Result(int exit, String output) {
    }

    private Result run(Path dir, String... command) throws IOException, InterruptedException {
        Path log = tmp.resolve("out.log");
        ProcessBuilder pb = new ProcessBuilder(List.of(command)).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile());
        pb.environment().put("TORCHBRIDGE_CDS", "0"); // no class-data archive written into the build during tests
        Process p = pb.start();
        ChildProcess.awaitExit(p, Duration.ofSeconds(120), List.of(command));
        return new Result(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
    }
}
