package io.torchbridge.cli.demo;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code torchbridge demo}: real PyTorch and Java train the same models and hand them over, both
 * ways. It lives in the demo module, apart from the light CLI, because it needs libtorch; the CLI's
 * {@code Main} finds it by name when the demo jar is on the class path.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Real PyTorch trains a small MLP (Adam) and a small CNN with BatchNorm (SGD) on synthetic "
                + "data; Java builds the same models from libtorch modules, loads Python's weights, matches "
                + "Python's outputs, resumes Python's training, trains on, and exports model and optimizer; "
                + "Python loads both strictly, takes one more step, and matches Java's step.",
                "Needs a python3 with torch (--python). Exit code 0 when every difference is within 1e-5."})
public final class DemoCommand implements Callable<Integer> {
    static final String SCRIPT = "native_demo.py";
    static final String SANDBOX_PYTHON = "/var/cache/torchbridge/bin/python-torch-sid";

    @Option(names = "--python", paramLabel = "PYTHON",
            description = "A python3 with torch. Default: $TORCHBRIDGE_PYTHON, else the torch 2.14 that "
                    + "fixtures/torch-matrix.sh installs, else python3.")
    String python;

    @Option(names = "--no-python", description = "Use the files of an earlier run in --dir instead of running "
            + "Python (then Java on the CPU checks Java's export in Python's place).")
    boolean noPython;

    @Option(names = "--device", paramLabel = "DEVICE", defaultValue = "cpu",
            description = "Where Java's models run: cpu or cuda:N (needs the CUDA build, see README). Default: cpu.")
    String device;

    @Option(names = "--dir", paramLabel = "DIR", description = "Work directory for the files (default: a new one "
            + "under the temporary directory). Python must be able to see it.")
    Path dir;

    @Override
    public Integer call() throws IOException, InterruptedException {
        Path work = (dir != null ? dir : Files.createTempDirectory("torchbridge-demo-")).toAbsolutePath();
        Files.createDirectories(work);
        Path script = work.resolve(SCRIPT);
        try (InputStream in = DemoCommand.class.getResourceAsStream(SCRIPT)) {
            if (in == null) {
                throw new IllegalStateException(SCRIPT + " is not bundled in this build");
            }
            Files.copy(in, script, StandardCopyOption.REPLACE_EXISTING);
        }
        String py = pythonPath();
        System.out.println("TorchBridge native demo: libtorch 2.10 (JavaCPP) on " + device + (noPython ? ", no Python"
                : ", Python: " + py) + "\nwork directory: " + work + "\n");
        NativeDemo.Result r;
        try {
            r = NativeDemo.run(new NativeDemo.Options(work, device, script,
                    noPython ? null : (s, args) -> runPython(py, work, s, args), System.out));
        } catch (IOException | RuntimeException e) {
            System.err.println("torchbridge demo: " + e.getMessage());
            return 1;
        }
        System.out.println();
        System.out.print(r.table());
        return r.passed() ? 0 : 1;
    }

    private String pythonPath() {
        if (python != null) {
            return python;
        }
        String env = System.getenv("TORCHBRIDGE_PYTHON");
        if (env != null && !env.isBlank()) {
            return env;
        }
        return Files.isExecutable(Path.of(SANDBOX_PYTHON)) ? SANDBOX_PYTHON : "python3";
    }

    private static String runPython(String python, Path work, Path script, String... args)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(python, script.toString()));
        cmd.addAll(List.of(args));
        // fixtures/torch-matrix.sh's chroot wrappers bind-mount the working directory (and /tmp) into
        // the chroot and leave the mount; from the temporary directory itself nothing new is mounted.
        Path tmp = Path.of(System.getProperty("java.io.tmpdir")).toAbsolutePath();
        Path cwd = work.startsWith(tmp) ? tmp : work;
        // Output goes to a file, not a pipe read to its end first: a hung Python must still time
        // out, and then it and whatever it started are killed.
        Path log = Files.createTempFile("torchbridge-demo", ".log");
        String text;
        try {
            Process p = new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true)
                    .redirectOutput(log.toFile()).start();
            if (!p.waitFor(600, TimeUnit.SECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                throw new IOException(python + " " + SCRIPT + " " + args[0] + " did not finish in 600 s; killed it");
            }
            text = Files.readString(log, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new IOException(python + " " + SCRIPT + " " + args[0] + " failed (exit " + p.exitValue() + ")"
                        + (text.contains("No module named 'torch'") ? ": this python has no torch; pass --python" : "")
                        + "\n" + text);
            }
        } finally {
            Files.deleteIfExists(log);
        }
        return text;
    }
}
