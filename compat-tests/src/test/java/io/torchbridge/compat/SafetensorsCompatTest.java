package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.Format;
import io.torchbridge.reader.Tensor;
import io.torchbridge.testing.Repo;
import io.torchbridge.writer.NewTensor;
import io.torchbridge.writer.SafetensorsWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * safetensors against safetensors 0.8 itself: (a) every fixture save_file wrote reads as its own
 * loader sees it (fixtures/safetensors/*.manifest.json: load_file's names and order, dtypes,
 * shapes, sha256; safe_open's metadata), and rewriting it gives the fixture's bytes; (b) files
 * convert writes from torch .pt fixtures have the bytes save_file writes live for the same
 * tensors and metadata; (c) what we write loads in load_file with equal values; (d) hostile
 * headers (fixtures/safetensors/hostile, with safetensors' own verdicts) give clean errors.
 */
class SafetensorsCompatTest {
    private static final Path DIR = Repo.fixtures().resolve("safetensors");
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    private static List<Path> fixtures() throws Exception {
        try (Stream<Path> s = Files.list(DIR)) {
            return s.filter(p -> p.toString().endsWith(".safetensors")).sorted().toList();
        }
    }

    /** Our reading equals the manifest safetensors' loader gave. */
    static void assertAsManifest(Checkpoint c, JsonNode m) throws Exception {
        assertEquals(Format.SAFETENSORS, c.format());
        List<String> names = new ArrayList<>();
        for (JsonNode t : m.get("tensors")) {
            String name = t.get("name").asText();
            names.add(name);
            Tensor x = c.tensor(name);
            assertEquals(t.get("dtype").asText(), x.dtype().pythonName(), name);
            List<Long> shape = new ArrayList<>();
            t.get("shape").forEach(d -> shape.add(d.asLong()));
            assertEquals(shape, java.util.Arrays.stream(x.shape().toArray()).boxed().toList(), name);
            assertEquals(t.get("sha256").asText(), sha256(x.toByteArray()), name);
        }
        assertEquals(names, c.names());
        Map<String, String> metadata = new LinkedHashMap<>();
        if (!m.get("metadata").isNull()) {
            m.get("metadata").fields().forEachRemaining(e -> metadata.put(e.getKey(), e.getValue().asText()));
        }
        assertEquals(metadata, c.metadata());
    }

    @TestFactory
    Stream<DynamicTest> eachFixtureReadsAsSafetensorsLoadsItAndRewritesToItsBytes() throws Exception {
        List<DynamicTest> tests = new ArrayList<>();
        for (Path f : fixtures()) {
            tests.add(dynamicTest(f.getFileName().toString(), () -> {
                String base = f.getFileName().toString().replace(".safetensors", "");
                JsonNode m = JSON.readTree(DIR.resolve(base + ".manifest.json").toFile());
                Path again = tmp.resolve(base + ".safetensors");
                try (Checkpoint c = Checkpoint.open(f)) {
                    assertAsManifest(c, m);
                    // the reader keeps the header's metadata order, so even several entries come back as they were
                    SafetensorsWriter.save(c.tensors(), m.get("metadata").isNull() ? null : c.metadata(), again);
                }
                assertArrayEquals(Files.readAllBytes(f), Files.readAllBytes(again), "rewritten " + base);
            }));
        }
        assertTrue(tests.size() >= 5, "fixtures: " + tests.size());
        return tests.stream();
    }

    private static final String SAVE_FILE = String.join("\n",
            "import sys, torch",
            "from safetensors.torch import save_file",
            "def flat(prefix, v, out):",
            "    # nested dicts and lists named as TorchBridge names tensors: keys joined with '.'",
            "    items = v.items() if isinstance(v, dict) else enumerate(v) if isinstance(v, (list, tuple)) else None",
            "    if items is None:",
            "        out[prefix] = v",
            "    else:",
            "        for k, x in items:",
            "            flat(f'{prefix}.{k}' if prefix else str(k), x, out)",
            "    return out",
            "sd = flat('', torch.load(sys.argv[1], weights_only=True), {})",
            "if sys.argv[3] == 'copies':",
            "    sd = {k: v.resolve_conj().resolve_neg().contiguous().clone() for k, v in sd.items()}",
            "save_file(dict(sd), sys.argv[2], metadata={'format': 'pt'})");

    /** (b): convert's output is save_file's, byte for byte (one metadata entry, so no hash-map order). */
    @Test
    void convertWritesSaveFilesBytes() throws Exception {
        TorchMatrix.Torch torch = TorchMatrix.require("2.14.1");
        String[][] cases = {{"module_net.pt", "as-is"}, {"module_transformer.pt", "as-is"},
            {"odd_shapes.pt", "as-is"}, {"special_floats.pt", "as-is"},
            {"views.pt", "copies"}, {"shared_storage.pt", "copies"}};
        for (String[] c : cases) {
            Path in = Repo.fixture("2.14.1", c[0]);
            Path theirs = tmp.resolve("theirs-" + c[0] + ".safetensors");
            torch.run(300, "-c", SAVE_FILE, in.toString(), theirs.toString(), c[1]);
            Path ours = tmp.resolve("ours-" + c[0] + ".safetensors");
            List<String> args = new ArrayList<>(List.of("convert", in.toString(), ours.toString()));
            if (c[1].equals("copies")) {
                CliRun refused = CliRun.of("convert", in.toString(), ours.toString());
                assertEquals(1, refused.exit(), refused.err());
                assertTrue(refused.err().contains("--materialize"), refused.err());
                args.add("--materialize");
            }
            CliRun run = CliRun.of(args.toArray(String[]::new));
            assertEquals(0, run.exit(), run.err());
            assertArrayEquals(Files.readAllBytes(theirs), Files.readAllBytes(ours), c[0]);
        }
    }

    /** Non-tensor values are refused by name, or with --drop-values left out and listed on stderr. */
    @Test
    void valuesNeedDropValuesAndAreListed() throws Exception {
        Path in = Repo.fixture("2.14.1", "training_adam.pt");
        Path out = tmp.resolve("adam.safetensors");
        CliRun refused = CliRun.of("convert", in.toString(), out.toString());
        assertEquals(1, refused.exit());
        assertTrue(refused.err().contains("UNSUPPORTED: safetensors holds tensors only; these values would be lost: "),
                refused.err());
        assertTrue(refused.err().contains("optimizer.param_groups = [{'lr': 0.01, 'betas': (0.9, 0.999), ")
                && refused.err().contains(", epoch = 7, ") && refused.err().contains("--drop-values"), refused.err());
        assertTrue(!Files.exists(out));
        CliRun dropped = CliRun.of("convert", "--drop-values", in.toString(), out.toString());
        assertEquals(0, dropped.exit(), dropped.err());
        assertTrue(dropped.err().contains("convert: left out epoch = 7\n"), dropped.err());
        try (Checkpoint src = Checkpoint.open(in); Checkpoint c = Checkpoint.open(out)) {
            assertEquals(new java.util.TreeSet<>(src.names()), new java.util.TreeSet<>(c.names()));
            assertEquals(Map.of("format", "pt"), c.metadata());
            for (String n : src.names()) {
                assertArrayEquals(src.tensor(n).toByteArray(), c.tensor(n).toByteArray(), n);
            }
        }
        // and back: a .safetensors input converts to torch.save's format through the reader
        Path back = tmp.resolve("back.pt");
        assertEquals(0, CliRun.of("convert", out.toString(), back.toString()).exit());
        try (Checkpoint c = Checkpoint.open(back)) {
            assertEquals(Format.ZIP, c.format());
        }
    }

    private static final String MANIFEST = String.join("\n",
            "import sys, json",
            "sys.path.insert(0, 'fixtures/safetensors')",
            "import generate",
            "print(json.dumps(generate.manifest(sys.argv[1])))");

    /** (c): files we write, from Java data and from the fixtures, load in load_file with equal values. */
    @Test
    void whatWeWriteLoadsInLoadFile() throws Exception {
        TorchMatrix.Torch torch = TorchMatrix.require("2.14.1");
        Map<String, Object> sd = new LinkedHashMap<>();
        float[] w = new float[12];
        for (int i = 0; i < w.length; i++) {
            w[i] = i * 0.5f - 3;
        }
        sd.put("w", NewTensor.of(w, 3, 4));
        sd.put("bits", NewTensor.of(new boolean[] {true, false, true}, 3));
        sd.put("i16", NewTensor.of(new short[] {-5, 7}, 2));
        sd.put("b\u00e9\"\\", NewTensor.ofBytes(new byte[] {0x3f, (byte) 0x80}, io.torchbridge.reader.DType.BFLOAT16));
        Path java = tmp.resolve("java.safetensors");
        SafetensorsWriter.save(sd, Map.of("format", "pt", "k", "v"), java);
        List<Path> files = new ArrayList<>(List.of(java));
        for (Path f : fixtures()) {
            Path copy = tmp.resolve("copy-" + f.getFileName());
            try (Checkpoint c = Checkpoint.open(f)) {
                SafetensorsWriter.save(c.tensors(), c.metadata(), copy);
            }
            files.add(copy);
        }
        for (Path f : files) {
            JsonNode m = JSON.readTree(torch.run(120, "-c", MANIFEST, f.toString()));
            try (Checkpoint c = Checkpoint.open(f)) {
                assertAsManifest(c, m);
            }
        }
    }

    /** (d): each hostile header is refused cleanly, with the kind verdicts.tsv gives; safetensors' own verdict is recorded there. */
    @TestFactory
    Stream<DynamicTest> hostileHeadersGetCleanErrors() throws Exception {
        List<DynamicTest> tests = new ArrayList<>();
        for (String line : Files.readAllLines(DIR.resolve("hostile/verdicts.tsv"))) {
            if (line.startsWith("#")) {
                continue;
            }
            String[] f = line.split("\t");
            Path file = DIR.resolve("hostile").resolve(f[0]);
            tests.add(dynamicTest(f[0] + ": " + f[2] + " (safetensors: " + f[3] + ")", () -> {
                CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(file).close());
                assertEquals(CheckpointException.Kind.valueOf(f[1]), e.kind(), e.getMessage());
            }));
        }
        assertTrue(tests.size() >= 15, "hostile: " + tests.size());
        return tests.stream();
    }
}
