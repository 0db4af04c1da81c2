package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code torchbridge demo}, as the README shows it: exit code 0 and the table when Java and Python agree. */
class DemoCliTest {
    @TempDir
    Path tmp;

    record Run(int exit, String out, String err) {
    }

    private static Run run(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int exit = Main.run(args);
            return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void theDemoPassesWithRealTorch() {
        TorchMatrix.Torch torch = TorchMatrix.require("2.14.1");
        Run r = run("demo", "--python", torch.python().toString(), "--dir", tmp.toString());
        System.out.print(r.out());
        assertEquals(0, r.exit(), r.out() + r.err());
        assertTrue(r.out().contains("PASS: every difference <= 1.00e-05 and Python's checks hold"), r.out());
        assertTrue(r.out().contains("inference on cpu, max |Java - Python|"), r.out());
    }

    @Test
    void aPythonWithoutTorchOrMissingFilesFailWithAReason() {
        Run r = run("demo", "--python", tmp.resolve("no-such-python").toString(), "--dir", tmp.toString());
        assertEquals(1, r.exit());
        assertTrue(r.err().startsWith("torchbridge demo: "), r.err());
        r = run("demo", "--no-python", "--dir", tmp.resolve("empty").toString());
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("mlp_state_dict.pt"), r.err());
    }
}
