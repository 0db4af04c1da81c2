package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.torchbridge.testing.Repo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code torchbridge inspect --json}: the stable contract, checked against PyTorch's manifests. */
class InspectCliTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void jsonLinesFollowTheContractForEveryFixture() throws Exception {
        for (String v : FixtureTest.sets()) {
            List<Path> manifests = FixtureTest.manifests(Repo.torchFolder(v));
            List<String> args = new ArrayList<>(List.of("inspect", "--json"));
            for (Path mf : manifests) {
                args.add(Manifest.read(mf).file().toString());
            }
            CliRun r = CliRun.of(args.toArray(String[]::new));
            assertEquals(0, r.exit(), r.err());
            String[] lines = r.out().split("\n");
            assertEquals(manifests.size(), lines.length, "one line per file");
            for (int i = 0; i < lines.length; i++) {
                Manifest m = Manifest.read(manifests.get(i));
                JsonNode line = JSON.readTree(lines[i]);
                // schema 1 (issue 12): "schema" first; per tensor "layout", "device" and "requires_grad" added
                assertEquals(List.of("schema", "file", "format", "tensors"), fieldNames(line));
                assertEquals(1, line.get("schema").asInt());
                assertEquals(m.file().toString(), line.get("file").asText());
                assertEquals("zip", line.get("format").asText());
                JsonNode tensors = line.get("tensors");
                assertEquals(m.tensors().size(), tensors.size(), m.file() + " tensor count");
                for (int k = 0; k < tensors.size(); k++) {
                    JsonNode want = m.tensors().get(k);
                    JsonNode got = tensors.get(k);
                    assertEquals(List.of("name", "dtype", "shape", "layout", "stride", "storage_offset", "device",
                            "requires_grad", "sha256"), fieldNames(got));
                    for (String field : List.of("name", "dtype", "shape", "stride", "storage_offset", "sha256",
                            "requires_grad")) {
                        assertEquals(want.get(field), got.get(field), m.file() + " " + want.get("name") + " " + field);
                    }
                    assertEquals("strided", got.get("layout").asText());
                    assertEquals(want.get("storage_location"), got.get("device"), m.file() + " " + want.get("name"));
                }
            }
        }
    }

    @Test
    void quantizedSparseAndNestedTensorsAreListedWithLayoutAndQuantization() throws Exception {
        // issue 10: a quantized model listed 0 tensors and exited 0; sparse and nested ones vanished too
        for (Path mf : FixtureTest.manifests(Repo.fixtures().resolve("qsparse-2.14.1"))) {
            JsonNode m = JSON.readTree(mf.toFile());
            Path pt = mf.resolveSibling(m.get("file").asText());
            CliRun r = CliRun.of("inspect", "--json", pt.toString());
            assertEquals(0, r.exit(), r.err());
            JsonNode tensors = JSON.readTree(r.out()).get("tensors");
            assertEquals(m.get("tensors").size(), tensors.size(), pt + " tensor count");
            for (int k = 0; k < tensors.size(); k++) {
                JsonNode want = m.get("tensors").get(k);
                JsonNode got = tensors.get(k);
                String where = pt.getFileName() + " " + want.get("name").asText();
                for (String field : List.of("name", "dtype", "shape", "sha256")) {
                    assertEquals(want.get(field), got.get(field), where + " " + field);
                }
                String layout = want.get("layout").asText();
                assertEquals(layout, got.get("layout").asText(), where + " layout"); // always there since schema 1
                if (want.has("qscheme")) {
                    JsonNode q = got.get("quantization");
                    assertEquals(want.get("qscheme").asText(), q.get("qscheme").asText(), where + " qscheme");
                    for (String field : List.of("scale", "zero_point", "axis")) {
                        if (want.has(field)) {
                            assertEquals(want.get(field).asDouble(), q.get(field).asDouble(), where + " " + field);
                        }
                    }
                    if (want.has("scales")) {
                        assertEquals(want.get("scales").size(), q.get("scales").size(), where + " scales");
                        for (int i = 0; i < want.get("scales").size(); i++) {
                            assertEquals(want.get("scales").get(i).asDouble(), q.get("scales").get(i).asDouble(), where);
                            assertEquals(want.get("zero_points").get(i).asDouble(), q.get("zero_points").get(i).asDouble(),
                                    where);
                        }
                    }
                }
                if (want.has("components")) {
                    assertEquals(fieldNames(want.get("components")), fieldNames(got.get("components")), where);
                }
            }
            CliRun text = CliRun.of("inspect", pt.toString());
            assertEquals(0, text.exit(), text.err());
            for (JsonNode want : m.get("tensors")) {
                assertTrue(text.out().contains(want.get("name").asText() + " "), pt + ": " + text.out());
            }
        }
        String table = CliRun.of("inspect", Repo.fixtures().resolve("qsparse-2.14.1/quantized.pt").toString()).out();
        assertTrue(table.contains("qint8") && table.contains("per_channel_affine axis=0"), table);
        table = CliRun.of("inspect", Repo.fixtures().resolve("qsparse-2.14.1/sparse.pt").toString()).out();
        assertTrue(table.contains("sparse_csr, nnz=6"), table);
    }

    @Test
    void aBadFileGetsAnErrorLineAndTheOthersStillRun() throws Exception {
        Path good = Repo.fixture("2.14.1", "module_linear.pt");
        Path bad = Files.write(tmp.resolve("bad.pt"), new byte[] {'P', 'K', 3, 4, 0, 0});
        CliRun r = CliRun.of("inspect", "--json", good.toString(), bad.toString(), good.toString());
        assertEquals(1, r.exit());
        String[] lines = r.out().split("\n");
        assertEquals(3, lines.length);
        JsonNode err = JSON.readTree(lines[1]);
        assertEquals(bad.toString(), err.get("file").asText());
        assertEquals("TRUNCATED", err.get("error").get("kind").asText());
        assertTrue(err.get("error").get("message").asText().contains("cut off"));
        assertEquals(JSON.readTree(lines[0]), JSON.readTree(lines[2]));
    }

    @Test
    void withNoFileItInspectsTheBundledCheckpoint() {
        CliRun r = CliRun.of("inspect");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("training_adam.pt (bundled, written by torch 2.14.1)"), r.out());
        assertTrue(r.out().contains("optimizer.state.0.exp_avg"), r.out());
        assertTrue(r.out().contains("16 tensors, 73 parameters"), r.out());
    }

    @Test
    void allowGlobalAdmitsWhatWeightsOnlyRefuses() throws Exception {
        // torch.save({'b': b''}) pickles empty bytes as builtins.bytes(), which torch.load(weights_only=True)
        // refuses (pytorch#133163); the same torch run records its own verdict.
        TorchMatrix.Torch torch = TorchMatrix.require("2.14.1");
        Path f = tmp.resolve("empty_bytes.pt");
        String verdict = torch.run(120, "-c", String.join("\n",
                "import sys, torch",
                "torch.save({'b': b'', 'n': torch.arange(3)}, sys.argv[1])",
                "try:",
                "    torch.load(sys.argv[1], weights_only=True); print('ACCEPTED')",
                "except Exception as e:",
                "    print('REFUSED', 'Unsupported global: GLOBAL bytes' in str(e))"), f.toString()).strip();
        assertEquals("REFUSED True", verdict.lines().reduce((a, b) -> b).orElse(""));

        CliRun refused = CliRun.of("inspect", "--json", f.toString());
        assertEquals(1, refused.exit());
        JsonNode err = JSON.readTree(refused.out()).get("error");
        assertEquals("DISALLOWED_GLOBAL", err.get("kind").asText());
        assertTrue(err.get("message").asText().contains("--allow-global builtins.bytes"), err.toString());

        CliRun admitted = CliRun.of("inspect", "--json", "--allow-global", "builtins.bytes", f.toString());
        assertEquals(0, admitted.exit(), admitted.out());
        assertEquals("n", JSON.readTree(admitted.out()).get("tensors").get(0).get("name").asText());
    }

    @Test
    void noHashLeavesOutTheDigestAndErrorLinesCarryTheSchema() throws Exception {
        Path f = Repo.fixture("2.14.1", "module_linear.pt");
        JsonNode t = JSON.readTree(CliRun.of("inspect", "--json", "--no-hash", f.toString()).out()).get("tensors").get(0);
        assertEquals(List.of("name", "dtype", "shape", "layout", "stride", "storage_offset", "device", "requires_grad"),
                fieldNames(t));
        Path bad = Files.write(tmp.resolve("bad.pt"), new byte[] {'P', 'K', 3, 4, 0, 0});
        JsonNode err = JSON.readTree(CliRun.of("inspect", "--json", bad.toString()).out());
        assertEquals(List.of("schema", "file", "error"), fieldNames(err));
    }

    /** requires_grad as torch.jit.load(f).state_dict() has it: parameters True, buffers False. */
    @Test
    void requiresGradOfTorchScriptModulesIsTorchs() throws Exception {
        for (Path mf : FixtureTest.manifests(Repo.fixtures().resolve("torchscript-2.14.1"))) {
            JsonNode m = JSON.readTree(mf.toFile());
            CliRun r = CliRun.of("inspect", "--json", "--no-hash", mf.resolveSibling(m.get("file").asText()).toString());
            assertEquals(0, r.exit(), r.err());
            JsonNode tensors = JSON.readTree(r.out()).get("tensors");
            for (int k = 0; k < tensors.size(); k++) {
                assertEquals(m.get("tensors").get(k).get("requires_grad"), tensors.get(k).get("requires_grad"),
                        mf + " " + tensors.get(k).get("name"));
            }
        }
    }

    /**
     * --values: every non-tensor leaf torch's manifest lists (plain_values: ints of any size, floats
     * with nan/inf/-0.0, strs, bools, None, bytes, empty containers, int and tuple keys), by path, in
     * order, mapped to JSON as the README's table says.
     */
    @Test
    void valuesAreEveryNonTensorLeafAsTorchListsThem() throws Exception {
        for (String v : FixtureTest.sets()) {
            Path mf = Repo.torchFolder(v).resolve("plain_values.manifest.json");
            if (!Files.exists(mf)) {
                continue;
            }
            JsonNode m = JSON.readTree(mf.toFile());
            CliRun r = CliRun.of("inspect", "--json", "--values", mf.resolveSibling(m.get("file").asText()).toString());
            assertEquals(0, r.exit(), r.err());
            JsonNode values = JSON.readTree(r.out()).get("values");
            List<String> want = new ArrayList<>();
            for (JsonNode e : m.get("values")) {
                String type = e.get("type").asText();
                boolean empty = (type.equals("list") || type.equals("tuple")) && e.get("len").asInt() == 0
                        || type.equals("dict") && e.get("keys").size() == 0;
                if (type.equals("tensor") || (!empty && (type.equals("list") || type.equals("tuple") || type.equals("dict")))) {
                    continue;
                }
                String name = e.get("name").asText();
                want.add(name);
                JsonNode got = values.get(name);
                String where = mf + " " + name;
                switch (type) {
                    case "int" -> assertEquals(new java.math.BigInteger(e.get("value").asText()), got.bigIntegerValue(), where);
                    case "float" -> {
                        String py = e.get("value").asText();
                        if (py.equals("nan") || py.contains("inf")) {
                            assertEquals(py, got.get("$float").asText(), where);
                        } else {
                            assertTrue(got.isNumber(), where);
                            assertEquals(Double.parseDouble(py), got.asDouble(), 0.0, where);
                            assertTrue(r.out().contains("\"" + name + "\":" + py + ","), where); // Python's repr digits
                        }
                    }
                    case "str" -> assertEquals(e.get("value").asText(), got.asText(), where);
                    case "bool" -> assertEquals(e.get("value").asBoolean(), got.asBoolean(), where);
                    case "none" -> assertTrue(got.isNull(), where);
                    case "bytes" -> assertEquals(e.get("value").asText(),
                            java.util.HexFormat.of().formatHex(java.util.Base64.getDecoder().decode(got.get("$bytes").asText())), where);
                    case "list", "tuple" -> assertEquals(0, got.size(), where);
                    case "dict" -> assertTrue(got.isObject() && got.size() == 0, where);
                    default -> throw new AssertionError("a type the test does not know: " + e);
                }
            }
            assertEquals(want, fieldNames(values), mf.toString());
        }
    }

    private static List<String> fieldNames(JsonNode n) {
        List<String> names = new ArrayList<>();
        n.fieldNames().forEachRemaining(names::add);
        return names;
    }
}
