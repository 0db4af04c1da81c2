package io.torchbridge.compat;

import io.torchbridge.testing.ChildProcess;
import io.torchbridge.testing.Repo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;

/**
 * The real PyTorch interpreters that {@code fixtures/torch-matrix.sh} installs. A test that needs
 * one calls {@link #require}: where it is missing the test is skipped with the reason printed,
 * except under CI ({@code CI=true}) or {@code -Dtorchbridge.requireTorch=true}, where a missing
 * torch fails the test instead, so CI can never pass by skipping.
 */
final class TorchMatrix {
    /** One installed torch: its version and the interpreter wrapper that runs python3 with it. */
    record Torch(String version, Path python) {
        /** Runs {@code python script args...} with the repository as working directory. */
        String run(long timeoutSeconds, String... args) throws IOException, InterruptedException {
            List<String> cmd = new ArrayList<>();
            cmd.add(python.toString());
            cmd.addAll(List.of(args));
            // Bounded: a hung torch is killed with its workers and fails the test, naming the command.
            ChildProcess.Result r = ChildProcess.run(cmd, Repo.root(), Duration.ofSeconds(timeoutSeconds));
            if (r.exitCode() != 0) {
                throw new IOException("torch " + version + " failed (exit " + r.exitCode() + "): " + cmd + "\n" + r.output());
            }
            return r.output();
        }
    }

    private static final String[][] KNOWN = {{"1.13.1", "host"}, {"2.6.0", "trixie"}, {"2.14.1", "sid"}};

    private TorchMatrix() {
    }

    static Path cache() {
        String env = System.getenv("TORCHBRIDGE_CACHE");
        return Path.of(env != null ? env : "/var/cache/torchbridge");
    }

    static boolean mustHave() {
        return "true".equals(System.getenv("CI")) || Boolean.getBoolean("torchbridge.requireTorch");
    }

    /** The torch of {@code version} (1.13.1, 2.6.0 or 2.14.1), or skip/fail as described above. */
    static Torch require(String version) {
        for (String[] k : KNOWN) {
            if (k[0].equals(version)) {
                Path py = cache().resolve("bin").resolve("python-torch-" + k[1]);
                if (Files.isExecutable(py)) {
                    return new Torch(version, py);
                }
                String why = "torch " + version + " is not installed (" + py + " missing); run fixtures/torch-matrix.sh";
                if (mustHave()) {
                    throw new AssertionError(why + " -- required under CI");
                }
                System.err.println("SKIPPED: " + why);
                Assumptions.abort(why);
            }
        }
        throw new IllegalArgumentException("unknown torch version " + version);
    }
}
