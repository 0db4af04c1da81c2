package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.torchbridge.cli.Main;
import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.PyDict;
import io.torchbridge.reader.PyTuple;
import io.torchbridge.reader.Tensor;
import io.torchbridge.testing.Repo;
import io.torchbridge.writer.DcpWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * torch.distributed.checkpoint against torch 2.14 itself: the fixtures (fixtures/dcp, 1 and 2
 * ranks) read as their manifests (dcp_to_torch_save's output) say and as live torch says; convert
 * of a DCP directory to .pth loads in torch with weights_only=True to the same; and what
 * DcpWriter writes (1 rank, and 2 ranks split along the first or the last dimension) loads with
 * torch's own dcp.load into a pre-allocated state dict with equal values, and reads back here the
 * same.
 */
class DcpCompatTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    @TempDir
    Path tmp;

    private static Path fixture(String name) {
        return Repo.fixtures().resolve("dcp").resolve(name + ".dcp");
    }

    private static JsonNode manifest(String name) throws Exception {
        return MAPPER.readTree(Repo.fixtures().resolve("dcp").resolve(name + ".manifest.json").toFile());
    }

    /** dcp_check.py's one marked line of output. */
    private static JsonNode torch(String... args) throws Exception {
        TorchMatrix.Torch torch = TorchMatrix.require("2.14.1");
        String[] all = new String[args.length + 1];
        all[0] = Repo.fixtures().resolve("dcp/dcp_check.py").toString();
        System.arraycopy(args, 0, all, 1, args.length);
        String out = torch.run(300, all);
        for (String line : out.split("\n")) {
            if (line.startsWith("DCP_CHECK ")) {
                return MAPPER.readTree(line.substring("DCP_CHECK ".length()));
            }
        }
        throw new AssertionError("dcp_check.py printed no result: " + out);
    }

    /** The manifest's description of what a checkpoint read here holds: tensors, and each value's path and type. */
    static JsonNode describe(Checkpoint c) throws Exception {
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        ArrayNode tensors = out.putArray("tensors");
        ArrayNode values = out.putArray("values");
        walk("", c.root(), tensors, values);
        return MAPPER.readTree(out.toString()); // numbers as a parsed manifest holds them (IntNode, not LongNode)
    }

    private static void walk(String path, Object v, ArrayNode tensors, ArrayNode values) throws Exception {
        ObjectNode value = values.addObject().put("name", path);
        if (v instanceof Tensor t) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            t.stream(md::update);
            ObjectNode d = tensors.addObject().put("name", path).put("dtype", t.dtype().pythonName());
            ArrayNode shape = d.putArray("shape");
            for (long s : t.shape().toArray()) {
                shape.add(s);
            }
            d.put("sha256", HexFormat.of().formatHex(md.digest()));
            value.put("type", "tensor");
        } else if (v instanceof PyDict dict) {
            value.put("type", "dict");
            ArrayNode keys = value.putArray("keys");
            for (Object k : dict.items().keySet()) {
                keys.addArray().add(k instanceof String ? "str" : "int").add(String.valueOf(k));
            }
            for (Map.Entry<Object, Object> e : dict.items().entrySet()) {
                walk(path.isEmpty() ? String.valueOf(e.getKey()) : path + "." + e.getKey(), e.getValue(), tensors, values);
            }
        } else if (v instanceof List<?> l) {
            value.put("type", "list").put("length", l.size());
            for (int i = 0; i < l.size(); i++) {
                walk(path + "." + i, l.get(i), tensors, values);
            }
        } else {
            value.put("type", v == null ? "NoneType" : v instanceof Long ? "int" : v instanceof String ? "str"
                    : v instanceof Double ? "float" : v instanceof PyTuple ? "tuple" : v instanceof Boolean ? "bool"
                    : v.getClass().getSimpleName());
            value.put("repr", repr(v));
        }
    }

    /** Python's repr of the plain values the fixtures hold. */
    private static String repr(Object v) {
        if (v instanceof String s) {
            return "'" + s + "'";
        } else if (v instanceof PyTuple t) {
            List<String> items = t.items().stream().map(DcpCompatTest::repr).toList();
            return "(" + String.join(", ", items) + (items.size() == 1 ? ",)" : ")");
        } else if (v instanceof Boolean b) {
            return b ? "True" : "False";
        }
        return v == null ? "None" : String.valueOf(v);
    }

    private static JsonNode withoutFileFields(JsonNode manifest) {
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        out.set("tensors", manifest.get("tensors"));
        out.set("values", manifest.get("values"));
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"one_rank", "two_ranks"})
    void fixtureReadsAsTorchSavesIt(String name) throws Exception {
        JsonNode want = withoutFileFields(manifest(name));
        try (Checkpoint c = Checkpoint.open(fixture(name))) {
            assertEquals(want, describe(c), name + ": read here");
        }
        assertEquals(want, torch("describe", fixture(name).toString()), name + ": dcp_to_torch_save live");
    }

    @ParameterizedTest
    @ValueSource(strings = {"one_rank", "two_ranks"})
    void convertToPthLoadsInTorchWithWeightsOnly(String name) throws Exception {
        Path out = tmp.resolve(name + ".pth");
        assertEquals(0, Main.run("convert", fixture(name).toString(), out.toString()));
        assertEquals(withoutFileFields(manifest(name)), torch("describe", out.toString()), name + " -> .pth");
    }

    @ParameterizedTest
    @ValueSource(strings = {"one_rank", "two_ranks"})
    void writtenDcpLoadsInTorch(String name) throws Exception {
        JsonNode want = withoutFileFields(manifest(name));
        Path one = tmp.resolve(name + "-1.dcp");
        Path rows = tmp.resolve(name + "-rows.dcp");
        Path last = tmp.resolve(name + "-last.dcp");
        try (Checkpoint c = Checkpoint.open(fixture(name))) {
            DcpWriter.save(c.root(), one);
            DcpWriter.save(c.root(), rows, 2, (n, s) -> 0);
            DcpWriter.save(c.root(), last, 3, (n, s) -> s.rank() - 1);
        }
        assertTrue(Files.isRegularFile(rows.resolve("__1_0.distcp")));
        assertTrue(Files.isRegularFile(last.resolve("__2_0.distcp")));
        for (Path p : List.of(one, rows, last)) {
            try (Checkpoint back = Checkpoint.open(p)) {
                assertEquals(want, describe(back), p + ": read back here");
            }
            assertEquals(want, torch("load-into", fixture(name).toString(), p.toString()), p + ": torch's dcp.load");
            assertEquals(want, torch("describe", p.toString()), p + ": torch's dcp_to_torch_save");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"one_rank", "two_ranks"})
    void convertToDcpByName(String name) throws Exception {
        Path pth = tmp.resolve(name + ".pth");
        Path out = tmp.resolve(name + "-again.dcp");
        assertEquals(0, Main.run("convert", fixture(name).toString(), pth.toString()));
        assertEquals(0, Main.run("convert", pth.toString(), out.toString()));
        assertEquals(withoutFileFields(manifest(name)), torch("describe", out.toString()), name + ": .pth -> .dcp");
    }

    @org.junit.jupiter.api.Test
    void inspectReadsTheDirectoryAndRefusesADataFileAlone() {
        CliRun dir = CliRun.of("inspect", fixture("two_ranks").toString());
        assertEquals(0, dir.exit(), dir.err());
        assertTrue(dir.out().contains("model.col"), dir.out());
        for (String f : List.of("__0_0.distcp", "__1_0.distcp")) {
            CliRun alone = CliRun.of("inspect", fixture("two_ranks").resolve(f).toString());
            assertEquals(1, alone.exit(), alone.out());
            assertTrue(alone.err().contains("open its directory " + fixture("two_ranks").toAbsolutePath()), alone.err());
        }
        CliRun one = CliRun.of("inspect", Repo.fixtures().resolve("kinds/samples/dcp_one/__0_0.distcp").toString());
        assertEquals(1, one.exit(), "a data file of one archive (byte for byte a torch.save of one tensor): " + one.out());
    }
}
