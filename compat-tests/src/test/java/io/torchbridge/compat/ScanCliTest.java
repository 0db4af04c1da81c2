package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.torchbridge.reader.scan.Scan;
import io.torchbridge.testing.Repo;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code torchbridge scan}: what it prints for a clean and a dangerous file, as text and as JSON. */
class ScanCliTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path CLEAN = Repo.fixture("2.14.1", "module_linear.pt");
    private static final Path DANGEROUS = MaliciousCorpusTest.DIR.resolve("inst_os_system.pt");

    @Test
    void aCleanFileExitsZero() {
        CliRun r = CliRun.of("scan", CLEAN.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().startsWith(CLEAN + ": clean\n"), r.out());
        assertTrue(r.out().contains("  format zip; torch.load(weights_only=True) would load it; "
                + "TorchBridge reads it by default\n"), r.out());
        assertTrue(r.out().contains("torch._utils._rebuild_tensor_v2"), r.out());
        assertFalse(r.out().contains("  ! "), r.out());
    }

    @Test
    void aDangerousFileIsNamedWithItsDangerAndExitsOne() {
        CliRun r = CliRun.of("scan", CLEAN.toString(), DANGEROUS.toString());
        assertEquals(1, r.exit(), r.err());
        assertTrue(r.out().contains(DANGEROUS + ": NOT CLEAN\n"), r.out());
        assertTrue(r.out().contains("torch.load(weights_only=True) would refuse it; TorchBridge refuses it"),
                r.out());
        assertTrue(r.out().matches("(?s).*\\n  os\\.system +1  no +no +runs system commands\\n.*"), r.out());
        assertTrue(r.out().contains("  ! os.system at data.pkl+0x30: runs system commands\n"), r.out());
    }

    @Test
    void jsonHasOneLinePerFileWithTheReportsFields() throws Exception {
        CliRun r = CliRun.of("scan", "--json", CLEAN.toString(), DANGEROUS.toString());
        assertEquals(1, r.exit(), r.err());
        String[] lines = r.out().split("\n");
        assertEquals(2, lines.length, r.out());
        JsonNode clean = JSON.readTree(lines[0]);
        assertEquals(List.of("file", "format", "clean", "verdict", "torch_weights_only_loads", "torchbridge_reads", "globals",
                "opcodes", "findings"), fieldNames(clean));
        assertEquals(CLEAN.toString(), clean.get("file").asText());
        assertTrue(clean.get("clean").asBoolean() && clean.get("torch_weights_only_loads").asBoolean()
                && clean.get("torchbridge_reads").asBoolean());
        JsonNode bad = JSON.readTree(lines[1]);
        Scan.Report report = Scan.scan(DANGEROUS);
        assertEquals(List.of("file", "format", "clean", "verdict", "torch_weights_only_loads", "torchbridge_reads", "globals",
                "opcodes", "findings", "error"), fieldNames(bad));
        assertEquals("zip", bad.get("format").asText());
        assertFalse(bad.get("clean").asBoolean() || bad.get("torch_weights_only_loads").asBoolean()
                || bad.get("torchbridge_reads").asBoolean());
        JsonNode global = bad.get("globals").get(0);
        assertEquals(List.of("name", "count", "torch_accepts", "torchbridge_accepts", "danger"), fieldNames(global));
        assertEquals("os.system", global.get("name").asText());
        assertEquals(1, global.get("count").asInt());
        assertEquals("runs system commands", global.get("danger").asText());
        assertEquals(report.opcodes().size(), bad.get("opcodes").size());
        assertEquals(report.findings(), List.of(bad.get("findings").get(0).asText()));
        assertEquals(report.error(), bad.get("error").asText());
    }

    private static List<String> fieldNames(JsonNode n) {
        List<String> out = new ArrayList<>();
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            out.add(it.next());
        }
        return out;
    }
}
