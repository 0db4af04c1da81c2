package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code torchbridge demo}, as the README shows it: exit code 0 and the table when Java and Python agree. */
class DemoCliTest {
    @TempDir
    Path tmp;

    @Test
    void theDemoPassesWithRealTorch() {
        TorchMatrix.Torch torch = TorchMatrix.require("2.14.1");
        CliRun r = CliRun.of("demo", "--python", torch.python().toString(), "--dir", tmp.toString());
        System.out.print(r.out());
        assertEquals(0, r.exit(), r.out() + r.err());
        assertTrue(r.out().contains("PASS: every difference <= 1.00e-05 and Python's checks hold"), r.out());
        assertTrue(r.out().contains("inference on cpu, max |Java - Python|"), r.out());
    }

    @Test
    void aPythonWithoutTorchOrMissingFilesFailWithAReason() {
        CliRun r = CliRun.of("demo", "--python", tmp.resolve("no-such-python").toString(), "--dir", tmp.toString());
        assertEquals(1, r.exit());
        assertTrue(r.err().startsWith("torchbridge demo: "), r.err());
        r = CliRun.of("demo", "--no-python", "--dir", tmp.resolve("empty").toString());
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("mlp_state_dict.pt"), r.err());
    }
}
