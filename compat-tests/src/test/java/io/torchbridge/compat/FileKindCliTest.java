package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.torchbridge.testing.Repo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 10, items 6-8 on the command line: what inspect prints for names two paths produce and
 * for tensors it cannot represent, the same file-kind diagnosis as the reader, standard input,
 * and scan's exit codes (0 clean, 1 dangerous, 2 not scanned) over files and directories.
 */
class FileKindCliTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path SAMPLES = Repo.fixtures().resolve("kinds/samples");
    private static final Path CLEAN = Repo.fixture("2.14.1", "module_linear.pt");
    private static final Path DANGEROUS = MaliciousCorpusTest.DIR.resolve("inst_os_system.pt");

    @TempDir
    Path tmp;

    @Test
    void inspectListsACollidingNameTwiceAndSaysWhichPathsProduceIt() throws Exception {
        Path f = SAMPLES.resolve("collision.pt");
        CliRun text = CliRun.of("inspect", f.toString());
        assertEquals(0, text.exit(), text.err());
        assertEquals(2, text.out().split("\n  x\\.y\\.z +float32 +\\[3\\]", -1).length - 1, text.out());
        assertTrue(text.out().contains("  ! name 'x.y.z' is produced by 2 paths: ['x.y']['z'] and ['x']['y.z']\n"),
                text.out());
        CliRun json = CliRun.of("inspect", "--json", f.toString());
        JsonNode line = JSON.readTree(json.out());
        assertEquals(2, line.get("tensors").size());
        assertEquals("x.y.z", line.get("tensors").get(0).get("name").asText());
        assertEquals("x.y.z", line.get("tensors").get(1).get("name").asText());
        assertEquals(JSON.readTree("{\"x.y.z\": [[\"x.y\", \"z\"], [\"x\", \"y.z\"]]}"), line.get("ambiguous_names"));
    }

    @Test
    void inspectNamesATensorItCannotRepresent() throws Exception {
        Path f = SAMPLES.resolve("meta.pt");
        CliRun text = CliRun.of("inspect", f.toString());
        assertEquals(0, text.exit(), text.err());
        assertTrue(text.out().matches("(?s).*\\n  m +unreadable +- +-\\n.*"), text.out());
        assertTrue(text.out().contains("  ! 'm' is not read: a meta tensor (it has no data), rebuilt by "
                + "torch._utils._rebuild_meta_tensor_no_storage, which this version does not read\n"), text.out());
        JsonNode line = JSON.readTree(CliRun.of("inspect", "--json", f.toString()).out());
        assertEquals(1, line.get("tensors").size());
        JsonNode u = line.get("unreadable").get(0);
        assertEquals("m", u.get("name").asText());
        assertEquals("torch._utils._rebuild_meta_tensor_no_storage", u.get("rebuild").asText());
    }

    @Test
    void inspectGivesTheReadersDiagnosisAndReadsStandardInput() throws Exception {
        CliRun st = CliRun.of("inspect", SAMPLES.resolve("model.safetensors").toString());
        assertEquals(0, st.exit(), st.err()); // read since issue 11
        CliRun in = CliRun.withInput(Files.readAllBytes(CLEAN), "inspect", "--json", "-");
        assertEquals(0, in.exit(), in.err());
        JsonNode line = JSON.readTree(in.out());
        assertEquals("(standard input)", line.get("file").asText());
        assertEquals(2, line.get("tensors").size());
        CliRun npy = CliRun.withInput(Files.readAllBytes(SAMPLES.resolve("array.npy")), "inspect", "-");
        // read since issue 12 (Format.NPY): one tensor, the array
        assertEquals(0, npy.exit(), npy.err());
        assertTrue(npy.out().contains("  format    npy, version 1"), npy.out());
    }

    @Test
    void scanExitsZeroOneOrTwo() throws Exception {
        assertEquals(0, CliRun.of("scan", CLEAN.toString()).exit());
        assertEquals(0, CliRun.of("scan", SAMPLES.resolve("model.safetensors").toString()).exit());
        assertEquals(1, CliRun.of("scan", DANGEROUS.toString()).exit());
        CliRun empty = CliRun.of("scan", SAMPLES.resolve("empty.pt").toString());
        assertEquals(2, empty.exit());
        assertTrue(empty.out().startsWith(SAMPLES.resolve("empty.pt") + ": UNREADABLE\n  format empty; this is an "
                + "empty file (0 bytes)"), empty.out());
        assertEquals(0, CliRun.of("scan", SAMPLES.resolve("array.npy").toString()).exit()); // no pickle runs
        assertEquals(2, CliRun.of("scan", Repo.fixtures().resolve("numpy/object.npy").toString()).exit());
        // the worst wins: dangerous over not scanned over clean
        assertEquals(2, CliRun.of("scan", CLEAN.toString(), SAMPLES.resolve("empty.pt").toString()).exit());
        assertEquals(1, CliRun.of("scan", SAMPLES.resolve("empty.pt").toString(), DANGEROUS.toString()).exit());
        CliRun in = CliRun.withInput(Files.readAllBytes(DANGEROUS), "scan", "-");
        assertEquals(1, in.exit());
        assertTrue(in.out().startsWith("(standard input): NOT CLEAN\n"), in.out());
    }

    @Test
    void scanWalksDirectoriesWithOneLinePerFileAndASummary() throws Exception {
        Path root = Files.createDirectories(tmp.resolve("models"));
        Path sub = Files.createDirectories(root.resolve("sub/deeper"));
        Files.copy(CLEAN, root.resolve("a.pt"), StandardCopyOption.REPLACE_EXISTING);
        Files.copy(SAMPLES.resolve("model.safetensors"), sub.resolve("b.safetensors"));
        CliRun clean = CliRun.of("scan", root.toString());
        assertEquals(0, clean.exit(), clean.out());
        assertEquals(List.of(root.resolve("a.pt") + ": clean (zip)",
                sub.resolve("b.safetensors") + ": clean (safetensors): this is a safetensors file",
                root + ": 2 files: 2 clean, 0 NOT CLEAN, 0 UNREADABLE"), List.of(clean.out().split("\n")));

        Files.write(sub.resolve("c.pt"), new byte[0]);
        CliRun unreadable = CliRun.of("scan", root.toString());
        assertEquals(2, unreadable.exit(), unreadable.out());
        assertTrue(unreadable.out().endsWith(root + ": 3 files: 2 clean, 0 NOT CLEAN, 1 UNREADABLE\n"),
                unreadable.out());

        Files.copy(DANGEROUS, root.resolve("sub/z.pt"));
        CliRun dangerous = CliRun.of("scan", root.toString());
        assertEquals(1, dangerous.exit(), dangerous.out());
        String[] lines = dangerous.out().split("\n");
        assertEquals(5, lines.length, dangerous.out());
        assertTrue(lines[3].startsWith(root.resolve("sub/z.pt") + ": NOT CLEAN (zip): os.system at data.pkl+0x30"),
                lines[3]);
        assertEquals(root + ": 4 files: 2 clean, 1 NOT CLEAN, 1 UNREADABLE", lines[4]);

        CliRun json = CliRun.of("scan", "--json", root.toString());
        assertEquals(1, json.exit());
        String[] objects = json.out().split("\n");
        assertEquals(4, objects.length, "one object per file, no summary");
        assertEquals("dangerous", JSON.readTree(objects[3]).get("verdict").asText());
    }

    @Test
    void aDcpDirectoryIsOneFileToScanNotATreeToWalk() {
        CliRun r = CliRun.of("scan", SAMPLES.resolve("dcp").toString());
        assertEquals(2, r.exit());
        assertTrue(r.out().startsWith(SAMPLES.resolve("dcp") + ": UNREADABLE\n  format dcp; this is part of a "
                + "torch.distributed.checkpoint (DCP)"), r.out());
    }
}
