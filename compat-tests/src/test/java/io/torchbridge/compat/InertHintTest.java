package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.testing.Crafted;
import io.torchbridge.testing.P;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A refused global's message points at the option that exists: {@code --allow-global} on the
 * command that ran, {@code --inert} only as {@code inspect}'s (convert has no such option).
 */
class InertHintTest {
    @TempDir
    Path tmp;

    @Test
    void convertsRefusalNamesInspectForInertNotAnOptionConvertLacks() throws Exception {
        // a pickled module, as torch.save(model) writes: GLOBAL torch.nn.modules.linear Linear
        byte[] pkl = P.proto(2).global("torch.nn.modules.linear", "Linear").stop().bytes();
        Path in = Crafted.checkpoint(pkl).write(tmp, "model.pt");
        CliRun r = CliRun.of("convert", in.toString(), tmp.resolve("out.pt").toString());
        assertEquals(1, r.exit(), r.err());
        assertTrue(r.err().contains("--allow-global torch.nn.modules.linear.Linear"), r.err());
        assertTrue(r.err().contains("torchbridge inspect --inert"), r.err());
        assertFalse(r.err().contains("CLI --inert"), r.err());

        CliRun accepted = CliRun.of("convert", "--inert", in.toString(), tmp.resolve("out.pt").toString());
        assertEquals(2, accepted.exit(), "convert has no --inert: " + accepted.err());
    }
}
