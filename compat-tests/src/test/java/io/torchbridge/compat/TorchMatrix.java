package io.torchbridge.compat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
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
            ProcessBuilder pb = new ProcessBuilder(cmd).directory(Repo.root().toFile()).redirectErrorStream(true);
            Process p = pb.start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("torch " + version + " timed out: " + cmd);
            }
            String text = new String(out, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new IOException("torch " + version + " failed (exit " + p.exitValue() + "): " + cmd + "\n" + text);
            }
            return text;
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
