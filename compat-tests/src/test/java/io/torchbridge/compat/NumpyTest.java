package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.torchbridge.reader.scan.Scan;
import io.torchbridge.testing.Repo;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * NumPy's formats: what numpy wrote reads as numpy's manifest says ({@code fixtures/numpy}), and
 * what {@code torchbridge export} writes loads in numpy with torch's values, a {@code .npy}
 * byte-identical to {@code numpy.save} ({@code fixtures/numpy/check_export.py}, live).
 */
class NumpyTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path DIR = Repo.fixtures().resolve("numpy");
    private static final Path TORCH = Repo.fixtures().resolve("torch-2.14.1");

    @TempDir
    Path tmp;

    @Test
    void whatNumpyWroteReadsAsNumpysManifestSays() throws Exception {
        JsonNode m = JSON.readTree(DIR.resolve("manifest.json").toFile());
        assertTrue(m.get("files").size() >= 20);
        for (JsonNode f : m.get("files")) {
            CliRun r = CliRun.of("inspect", "--json", DIR.resolve(f.get("file").asText()).toString());
            assertEquals(0, r.exit(), r.out() + r.err());
            JsonNode line = JSON.readTree(r.out());
            assertEquals(f.get("format").asText(), line.get("format").asText());
            JsonNode tensors = line.get("tensors");
            assertEquals(f.get("arrays").size(), tensors.size(), f.toString());
            for (int i = 0; i < tensors.size(); i++) {
                JsonNode want = f.get("arrays").get(i);
                JsonNode got = tensors.get(i);
                for (String field : List.of("name", "dtype", "shape", "sha256")) {
                    assertEquals(want.get(field), got.get(field), f.get("file") + " " + field);
                }
            }
        }
        for (JsonNode f : m.get("refused")) {
            CliRun r = CliRun.of("inspect", "--json", DIR.resolve(f.get("file").asText()).toString());
            assertEquals(1, r.exit(), r.out());
            assertEquals(f.get("kind").asText(), JSON.readTree(r.out()).get("error").get("kind").asText(), r.out());
        }
    }

    /**
     * {@code scan}: a NumPy file holds no pickle that runs (numpy.load refuses object arrays unless
     * allow_pickle=True, and so does the reader), so every file numpy wrote is clean when the reader
     * reads it, and unreadable, with the reader's reason, when it does not.
     */
    @Test
    void scanCallsWhatReadsCleanAndTheRestUnreadable() throws Exception {
        JsonNode m = JSON.readTree(DIR.resolve("manifest.json").toFile());
        for (JsonNode f : m.get("files")) {
            Scan.Report r = Scan.scan(DIR.resolve(f.get("file").asText()));
            assertEquals(Scan.Verdict.CLEAN, r.verdict(), r.toString());
            assertEquals(f.get("format").asText(), r.format(), r.toString());
        }
        for (JsonNode f : m.get("refused")) {
            Scan.Report r = Scan.scan(DIR.resolve(f.get("file").asText()));
            assertEquals(Scan.Verdict.UNREADABLE, r.verdict(), r.toString());
            assertTrue(r.error() != null && !r.error().isBlank(), r.toString());
        }
    }

    @Test
    void exportsLoadInNumpyWithTorchsValues() throws Exception {
        TorchMatrix.Torch torch = TorchMatrix.require("2.14.1");
        // name of a tensor for the .npy, or null; --raw-bits where the file has dtypes numpy lacks
        String[][] files = {{"dtypes_all.pt", "float32"}, {"odd_shapes.pt", "empty_3_0_2"}, {"conj_neg.pt", "c64_conj"},
            {"special_floats.pt", "float16"}, {"shared_storage.pt", "matrix_row1"}, {"parameters.pt", "params.1"},
            {"tensor_root.pt", null}, {"module_net.pt", null}};
        int checked = 0;
        for (String[] f : files) {
            Path pt = TORCH.resolve(f[0]);
            Path npz = tmp.resolve(f[0] + ".npz");
            CliRun all = CliRun.of("export", "--raw-bits", pt.toString(), npz.toString());
            assertEquals(0, all.exit(), f[0] + ": " + all.err());
            List<String> args = new ArrayList<>(List.of(Repo.fixtures().resolve("numpy/check_export.py").toString(),
                    pt.toString(), npz.toString()));
            if (f[1] != null) {
                Path npy = tmp.resolve(f[0] + ".npy");
                CliRun one = CliRun.of("export", pt.toString(), f[1], npy.toString());
                assertEquals(0, one.exit(), f[0] + ": " + one.err());
                args.add(f[1]);
                args.add(npy.toString());
            }
            String out = torch.run(300, args.toArray(String[]::new));
            assertTrue(out.contains("\nOK "), out);
            checked++;
        }
        assertEquals(files.length, checked);
    }

    @Test
    void dtypesNumpyLacksAreRefusedUnlessRawBitsAreAskedFor() {
        Path pt = TORCH.resolve("dtypes_all.pt");
        CliRun r = CliRun.of("export", pt.toString(), "bfloat16", tmp.resolve("x.npy").toString());
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("is bfloat16, which numpy has no dtype for; export its raw bits as <u2 with "
                + "--raw-bits"), r.err());
        assertTrue(!tmp.resolve("x.npy").toFile().exists(), "nothing written");
        assertEquals(2, CliRun.of("export", pt.toString(), "float32", "float64", tmp.resolve("x.npy").toString()).exit());
        assertEquals(2, CliRun.of("export", pt.toString(), "float32", tmp.resolve("x.txt").toString()).exit());
    }

    @Test
    void diffComparesAnExportWithItsCheckpoint() {
        Path pt = TORCH.resolve("module_net.pt");
        Path npz = tmp.resolve("net.npz");
        assertEquals(0, CliRun.of("export", pt.toString(), npz.toString()).exit());
        CliRun r = CliRun.of("diff", pt.toString(), npz.toString());
        assertEquals(0, r.exit(), r.out() + r.err());
    }
}
