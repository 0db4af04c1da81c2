package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.cli.demo.NativeDemo;
import io.torchbridge.libtorch.RequiresCuda;
import io.torchbridge.testing.Repo;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The proof of the native layer, as the README's demo runs it: real torch 2.14 trains an MLP and a
 * CNN; Java loads the weights into the same libtorch architectures and matches Python's outputs;
 * Java resumes Python's training; Java trains on and exports model and optimizer; real torch loads
 * both strictly, takes one more step, and matches Java's step. All within 1e-5 in float32.
 */
class NativeDemoTest {
    @TempDir(cleanup = org.junit.jupiter.api.io.CleanupMode.ON_SUCCESS)
    Path tmp;

    static NativeDemo.Python python(TorchMatrix.Torch torch) {
        return (script, args) -> {
            String[] all = new String[args.length + 1];
            all[0] = script.toString();
            System.arraycopy(args, 0, all, 1, args.length);
            return torch.run(600, all);
        };
    }

    static Path script() {
        return Repo.fixtures().resolve("native_demo.py");
    }

    @Test
    void javaMatchesPythonAndPythonResumesJavasTrainingOnTheCpu() throws Exception {
        TorchMatrix.Torch torch = TorchMatrix.require("2.14.1");
        NativeDemo.Result r = NativeDemo.run(new NativeDemo.Options(tmp, "cpu", script(), python(torch), System.out));
        System.out.print(r.table());
        check(r, true);
    }

    /**
     * The same on cuda:0. Python (when there is one: $TORCHBRIDGE_PYTHON, else the torch 2.14 of the
     * matrix) still trains and resumes on the CPU; without one, the files must be in
     * $TORCHBRIDGE_DEMO_DIR (native/cuda-check.sh prepares them) and Java on the CPU resumes Java's
     * export in Python's place.
     */
    @Test
    @RequiresCuda
    void theSameOnCuda() throws Exception {
        String env = System.getenv("TORCHBRIDGE_PYTHON");
        Path sandbox = TorchMatrix.cache().resolve("bin").resolve("python-torch-sid");
        NativeDemo.Python py = env != null && !env.isBlank() ? python(new TorchMatrix.Torch("env", Path.of(env)))
                : Files.isExecutable(sandbox) ? python(new TorchMatrix.Torch("2.14.1", sandbox)) : null;
        Path dir = tmp;
        String prepared = System.getenv("TORCHBRIDGE_DEMO_DIR");
        if (py == null && prepared != null) {
            dir = Path.of(prepared);
        }
        NativeDemo.Result r = NativeDemo.run(new NativeDemo.Options(dir, "cuda:0", script(), py, System.out));
        System.out.print(r.table());
        check(r, py != null);
    }

    private static void check(NativeDemo.Result r, boolean pythonRan) {
        assertEquals(pythonRan, r.pythonRan());
        assertEquals(2, r.models().size());
        for (NativeDemo.ModelResult m : r.models()) {
            String what = m.model() + " on " + r.device() + ": ";
            assertTrue(m.keys() > 0, what + "weights loaded");
            assertTrue(m.inferenceDiff() <= NativeDemo.TOLERANCE, what + "inference differs by " + m.inferenceDiff());
            assertTrue(m.resumePythonDiff() <= NativeDemo.TOLERANCE, what + "resuming Python's run differs by "
                    + m.resumePythonDiff());
            assertTrue(m.nextStepDiff() <= NativeDemo.TOLERANCE, what + "the step after Java's export differs by "
                    + m.nextStepDiff());
            assertEquals(m.javaLoss(), m.otherLoss(), NativeDemo.TOLERANCE, what + "loss at that step");
            if (pythonRan) {
                assertEquals(5, m.pythonChecks().size(), what + "Python's checks " + m.pythonChecks());
                m.pythonChecks().forEach((k, v) -> assertEquals(Boolean.TRUE, v, what + "Python's check " + k));
            }
        }
        assertTrue(r.passed());
    }
}
