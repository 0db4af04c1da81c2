package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.torchbridge.cli.Main;
import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.Format;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code torchbridge convert} turns every legacy-stream fixture (torch 1.13, 2.6, 2.14; pickle
 * protocols 1-5), the legacy tar and the stream with storage views into the current zip layout, which real torch 2.14 loads with
 * {@code weights_only=True} (and mmap=True) with the values, layout and tree of the original's
 * PyTorch-written manifest (check_written.py).
 */
class ConvertLegacyTest {
    @TempDir
    Path tmp;

    @Test
    void convertedLegacyFilesLoadInTorchWithWeightsOnlyAndEqualValues() throws Exception {
        ObjectMapper json = new ObjectMapper();
        int n = 0;
        for (Path mf : LegacyFixtureTest.allLegacyManifests()) {
            Manifest m = Manifest.read(mf);
            String name = m.file().getParent().getFileName() + "_" + m.file().getFileName();
            Path out = tmp.resolve(name);
            assertEquals(0, Main.run("convert", m.file().toString(), out.toString()), name);
            try (Checkpoint c = Checkpoint.open(out)) {
                assertEquals(Format.ZIP, c.format(), name);
            }
            Files.writeString(tmp.resolve(name.replace(".pt", ".expected.json")), json.writeValueAsString(m.json()));
            n++;
        }
        assertTrue(n >= 3 * 14 + 2, "converted " + n);
        String report = TorchMatrix.require("2.14.1").run(600,
                io.torchbridge.testing.Repo.fixtures().resolve("check_written.py").toString(), tmp.toString());
        assertTrue(report.contains("check_written: " + n + " passed, 0 failed"), report);
    }
}
