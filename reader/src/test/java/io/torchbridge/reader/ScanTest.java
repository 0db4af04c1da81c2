package io.torchbridge.reader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.testing.Repo;
import io.torchbridge.reader.scan.Scan;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Scan} without torch: its prediction against the torch 2.14 verdicts the malicious
 * corpus's manifest records (compat-tests' ScanAgreesWithTorchTest asks torch itself), and the
 * report of a clean file, a dangerous one and files that are not checkpoints.
 */
class ScanTest {
    private static final Pattern FILE = Pattern.compile("\"file\": \"([^\"]+)\"");
    private static final Pattern VERDICT = Pattern.compile("\"torch_2_14\": \\{\"verdict\": \"(accepted|refused)\"");

    @TempDir
    Path dir;

    private static Path corpus() {
        return Repo.fixture("2.14.1", "").resolveSibling("malicious");
    }

    @Test
    void predictsTorchsRecordedVerdictOnEveryMaliciousFile() throws Exception {
        Map<String, Boolean> accepted = new LinkedHashMap<>();
        for (String line : Files.readAllLines(corpus().resolve("MANIFEST.json"))) {
            Matcher f = FILE.matcher(line);
            Matcher v = VERDICT.matcher(line);
            if (f.find() && v.find()) {
                accepted.put(f.group(1), v.group(1).equals("accepted"));
            }
        }
        assertTrue(accepted.size() > 100, "manifest entries: " + accepted.size());
        // The corpus holds files torch loads but our limits refuse (deep nesting, shared-container
        // bombs, a trailing pickle): the scan must see past its own limits to predict torch.
        assertTrue(accepted.containsValue(true) && accepted.containsValue(false), accepted.toString());
        List<String> wrong = new ArrayList<>();
        for (Map.Entry<String, Boolean> e : accepted.entrySet()) {
            Scan.Report r = Scan.scan(corpus().resolve(e.getKey()));
            if (r.torchWouldLoad() != e.getValue() || r.readsByDefault() || r.clean()) {
                wrong.add(e.getKey() + ": torch " + (e.getValue() ? "loads" : "refuses") + ", scan predicted "
                        + r.torchWouldLoad() + ", reads " + r.readsByDefault() + "; findings " + r.findings());
            }
        }
        assertTrue(wrong.isEmpty(), String.join("\n", wrong));
    }

    @Test
    void aTorchSaveFileIsClean() {
        Scan.Report r = Scan.scan(Repo.fixture("2.14.1", "module_linear.pt"));
        assertEquals("zip", r.format());
        assertTrue(r.clean(), r.findings().toString());
        assertTrue(r.torchWouldLoad());
        assertTrue(r.readsByDefault());
        assertNull(r.error());
        Scan.GlobalUse rebuild = r.globals().stream()
                .filter(g -> g.name().equals("torch._utils._rebuild_tensor_v2")).findFirst().orElseThrow();
        assertTrue(rebuild.torchAccepts() && rebuild.acceptedByDefault());
        assertNull(rebuild.danger());
        assertTrue(r.opcodes().containsKey("BINPERSID"), r.opcodes().toString());
    }

    @Test
    void aSystemCallIsNamedWithItsDangerAndOffset() {
        Scan.Report r = Scan.scan(corpus().resolve("inst_os_system.pt"));
        assertFalse(r.clean());
        assertEquals(Scan.Verdict.DANGEROUS, r.verdict());
        assertEquals(List.of(new Scan.GlobalUse("os.system", 1, 0x30, false, false, "runs system commands")),
                r.globals());
        assertEquals(List.of("os.system at data.pkl+0x30: runs system commands"), r.findings());
        assertTrue(r.error().startsWith("data.pkl+0x30: global 'os.system' is refused"), r.error());
    }

    @Test
    void aHiddenSecondPickleIsReportedAndTorchStillLoadsTheFirst() {
        Scan.Report r = Scan.scan(corpus().resolve("two_pickles_concatenated.pt"));
        assertTrue(r.torchWouldLoad());
        assertFalse(r.readsByDefault());
        assertTrue(r.findings().contains("data.pkl+0xB: bytes after the pickle's STOP (a second pickle hidden "
                + "behind the first: torch ignores it, TorchBridge refuses the file)"), r.findings().toString());
    }

    @Test
    void torchScriptAndBarePicklesAreNamedAsSuch() {
        Scan.Report ts = Scan.scan(corpus().resolve("torchscript_with_payload.pt"));
        assertEquals("torchscript", ts.format());
        // torch 2.14 refuses every TorchScript archive under weights_only=True (MANIFEST.json's verdict)
        assertFalse(ts.torchWouldLoad());
        assertTrue(ts.findings().stream().anyMatch(f -> f.startsWith("posix.system at data.pkl+0x")), ts.findings().toString());
        assertFalse(ts.readsByDefault() || ts.clean());
        Scan.Report bare = Scan.scan(corpus().resolve("plain_pickle_not_zip.pkl"));
        assertEquals("pickle", bare.format());
        assertTrue(bare.findings().contains(
                "a bare pickle, not a torch.save checkpoint: torch.load cannot read it safely"));
        assertFalse(bare.torchWouldLoad());
    }

    /** Exit statuses as scanners have them: 0 clean, 1 dangerous, 2 not scanned; a directory takes the worst. */
    @Test
    void verdictsAndTheirExitCodes() {
        assertEquals(Scan.Verdict.CLEAN, Scan.scan(Repo.fixture("2.14.1", "module_linear.pt")).verdict());
        // formats without a pickle hold nothing that runs: clean, and the report says what the file is
        Scan.Report st = Scan.scan(Repo.fixtures().resolve("kinds/samples/model.safetensors"));
        assertEquals(Scan.Verdict.CLEAN, st.verdict());
        assertEquals("safetensors", st.format());
        assertTrue(st.error().startsWith("this is a safetensors file"), st.error());
        // numpy files hold no pickle that runs (the reader refuses object arrays): clean when they read
        Scan.Report npy = Scan.scan(Repo.fixtures().resolve("kinds/samples/array.npy"));
        assertEquals(Scan.Verdict.CLEAN, npy.verdict(), npy.toString());
        assertEquals("npy", npy.format());
        assertEquals(Scan.Verdict.CLEAN, Scan.scan(Repo.fixtures().resolve("kinds/samples/arrays.npz")).verdict());
        assertEquals(List.of(0, 1, 2), List.of(Scan.Verdict.CLEAN.exitCode(), Scan.Verdict.DANGEROUS.exitCode(),
                Scan.Verdict.UNREADABLE.exitCode()));
        assertEquals(Scan.Verdict.DANGEROUS, Scan.Verdict.UNREADABLE.worst(Scan.Verdict.DANGEROUS));
        assertEquals(Scan.Verdict.DANGEROUS, Scan.Verdict.DANGEROUS.worst(Scan.Verdict.CLEAN));
        assertEquals(Scan.Verdict.UNREADABLE, Scan.Verdict.CLEAN.worst(Scan.Verdict.UNREADABLE));
        assertEquals(Scan.Verdict.CLEAN, Scan.Verdict.CLEAN.worst(Scan.Verdict.CLEAN));
    }

    /** A global outside the allowlist with no known danger still makes the file dangerous: loading it runs it. */
    @Test
    void aGlobalOutsideTheAllowlistIsDangerousAndAHiddenPickleToo() {
        Scan.Report outside = Scan.scan(corpus().resolve("argparse_namespace.pt"));
        assertTrue(outside.globals().stream().anyMatch(g -> g.name().equals("argparse.Namespace")
                && g.danger() == null && !g.torchAccepts()), outside.globals().toString());
        assertEquals(Scan.Verdict.DANGEROUS, outside.verdict());
        Scan.Report hidden = Scan.scan(corpus().resolve("two_pickles_concatenated.pt"));
        assertEquals(Scan.Verdict.DANGEROUS, hidden.verdict());
    }

    @Test
    void aScriptedModuleIsCleanButTorchLoadRefusesIt() {
        // written by torch.jit.save (fixtures/torchscript.py): its __torch__ classes and
        // torch.jit._pickle helpers are TorchScript's own, no alarm; torch.load(weights_only=True)
        // refuses any TorchScript archive (torch 2.6+), which the verdict says
        for (String v : Repo.TORCH_VERSIONS) {
            Scan.Report r = Scan.scan(Repo.fixtures().resolve("torchscript-" + v).resolve("scripted_attributes.pt"));
            assertEquals("torchscript", r.format());
            assertEquals(List.of(), r.findings());
            assertTrue(r.clean() && r.readsByDefault());
            assertFalse(r.torchWouldLoad());
            assertTrue(r.globals().stream().anyMatch(g -> g.name().equals("__torch__.Attrs") && g.acceptedByDefault()
                    && !g.torchAccepts()), r.globals().toString());
        }
    }

    @Test
    void aTorchScriptArchivesOtherPicklesAreScannedToo() throws Exception {
        // constants.pkl is unpickled by torch.jit.load too: a call to eval there is a finding
        Map<String, byte[]> records = ReaderFuzzTest.records(Files.readAllBytes(
                Repo.fixtures().resolve("torchscript-2.14.1").resolve("scripted_double.pt")));
        records.put("constants.pkl", io.torchbridge.testing.P.proto(2).global("builtins", "eval")
                .mark().str("1").tuple().reduce().stop().bytes());
        Path f = Files.write(dir.resolve("ts.pt"), io.torchbridge.testing.Crafted.zip("ts", records));
        Scan.Report r = Scan.scan(f);
        assertEquals("torchscript", r.format());
        assertTrue(r.findings().stream().anyMatch(x -> x.startsWith("builtins.eval at constants.pkl+0x")),
                r.findings().toString());
        assertFalse(r.clean());
    }

    @Test
    void aFileThatIsNoCheckpointIsUnreadableNotAnException() throws Exception {
        Path text = Files.writeString(dir.resolve("notes.txt"), "hello");
        Scan.Report r = Scan.scan(text);
        assertEquals("unknown", r.format());
        assertTrue(r.error().startsWith("this is not a PyTorch checkpoint or any file kind TorchBridge recognizes "
                + "(it starts with 68 65 6C 6C 6F, and has only 5 bytes"), r.error());
        assertEquals(List.of("does not read: " + r.error()), r.findings());
        assertEquals(Scan.Verdict.UNREADABLE, r.verdict());
        assertFalse(r.clean() || r.torchWouldLoad() || r.readsByDefault());
        Scan.Report missing = Scan.scan(dir.resolve("absent.pt"));
        assertFalse(missing.clean());
        assertTrue(missing.error() != null && !missing.error().isEmpty());
    }
}
