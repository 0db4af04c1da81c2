package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.torchbridge.libtorch.LoadReport;
import io.torchbridge.libtorch.RequiresCuda;
import io.torchbridge.libtorch.ScriptedModule;
import io.torchbridge.libtorch.StateDictException;
import io.torchbridge.libtorch.StateDictLoader;
import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.PyDict;
import io.torchbridge.reader.PyTuple;
import io.torchbridge.testing.Repo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TorchScript archives written by torch 2.14 run in libtorch 2.10 from Java with torch's outputs
 * (scripted and traced; tensors, lists, tuples, int/float/bool/str and optional arguments; tuple,
 * list, int and dict results), and new weights from any file the reader opens load into the
 * scripted module as torch's {@code load_state_dict} loads them: the same report, the same error
 * text, the same outputs afterwards. Every input, archive and expected value comes from
 * {@code fixtures/native_torchscript.py}, run by real torch in a temporary folder.
 */
class ScriptedModuleTest {
    /** float32 kernels of libtorch 2.10 against torch 2.14's: the same math, maybe another order. */
    private static final double TOLERANCE = 1e-5;

    @TempDir
    static Path tmp;

    static Path dir;

    /**
     * Python writes the files here, or, where {@code TORCHBRIDGE_TORCHSCRIPT_DIR} names a folder
     * it already wrote ({@code native/cuda-check.sh --bundle} does, for a GPU machine without
     * torch 2.14), they are taken from there.
     */
    @BeforeAll
    static void pythonWritesTheArchives() throws Exception {
        String made = System.getenv("TORCHBRIDGE_TORCHSCRIPT_DIR");
        if (made != null) {
            dir = Path.of(made);
            return;
        }
        TorchMatrix.Torch torch = TorchMatrix.require("2.14.1");
        dir = Files.createDirectories(tmp.resolve("torchscript"));
        torch.run(300, Repo.fixtures().resolve("native_torchscript.py").toString(), dir.toString());
    }

    @Test
    void everyArchiveRunsWithTorchsOutputsOnTheCpu() throws Exception {
        assertEquals(List.of("scripted_net", "scripted_net_defaults", "scripted_dict", "traced_one", "traced_two",
                "traced_tuple"), runAll("cpu"));
    }

    @Test
    @RequiresCuda
    void everyArchiveRunsWithTorchsOutputsOnCuda() throws Exception {
        assertEquals(6, runAll("cuda:0").size());
    }

    private static List<String> runAll(String device) throws Exception {
        List<String> seen = new ArrayList<>();
        try (Checkpoint cases = Checkpoint.open(dir.resolve("cases.pt"))) {
            PyDict all = (PyDict) cases.root();
            for (var e : all.items().entrySet()) {
                String name = (String) e.getKey();
                PyDict c = (PyDict) e.getValue();
                try (ScriptedModule m = ScriptedModule.open(dir.resolve((String) c.get("archive")), device)) {
                    List<?> args = (List<?>) c.get("args");
                    Object got = m.forward(args.toArray());
                    double[] max = {0};
                    same(name, c.get("out"), got, max, device);
                    System.out.printf("torchscript %-22s on %-6s %s -> max |diff| %.3g%n", name, device, m.signature(),
                            max[0]);
                }
                seen.add(name);
            }
        }
        return seen;
    }

    @Test
    void newWeightsLoadIntoTheOldArchitectureAsTorchLoadsThem() throws Exception {
        loadAll("cpu");
    }

    @Test
    @RequiresCuda
    void newWeightsLoadOnCuda() throws Exception {
        loadAll("cuda:0");
    }

    private static void loadAll(String device) throws Exception {
        JsonNode reports = new ObjectMapper().readTree(dir.resolve("reports.json").toFile());
        List<String> seen = new ArrayList<>();
        try (Checkpoint cases = Checkpoint.open(dir.resolve("cases.pt"));
             Checkpoint loaded = Checkpoint.open(dir.resolve("loaded.pt"))) {
            List<?> args = (List<?>) ((PyDict) ((PyDict) cases.root()).get("scripted_net")).get("args");
            for (var it = reports.fields(); it.hasNext(); ) {
                var e = it.next();
                String name = e.getKey();
                JsonNode want = e.getValue();
                seen.add(name);
                StateDictLoader strict = name.equals("weights_ddp")
                        ? StateDictLoader.builder().stripPrefix("module.").build() : StateDictLoader.strict();
                StateDictLoader lenient = name.equals("weights_ddp")
                        ? StateDictLoader.builder().stripPrefix("module.").strict(false).build()
                        : StateDictLoader.builder().strict(false).build();
                try (Checkpoint weights = Checkpoint.open(dir.resolve(name + ".pt"));
                     ScriptedModule m = ScriptedModule.open(dir.resolve("scripted_net.pt"), device)) {
                    if (want.get("strict").asText().equals("ok")) {
                        assertTrue(m.load(weights, strict).allMatched(), name);
                    } else {
                        Object before = m.forward(args.toArray());
                        StateDictException ex = assertThrows(StateDictException.class, () -> m.load(weights, strict));
                        assertEquals(want.get("strict").asText(), ex.getMessage(), name + " (strict)");
                        double[] untouched = {0};
                        same(name + " after a failed load", before, m.forward(args.toArray()), untouched, device);
                        assertEquals(0.0, untouched[0], name + ": a failed load changes nothing");
                    }
                }
                try (Checkpoint weights = Checkpoint.open(dir.resolve(name + ".pt"));
                     ScriptedModule m = ScriptedModule.open(dir.resolve("scripted_net.pt"), device)) {
                    JsonNode nonStrict = want.get("nonstrict");
                    if (nonStrict.isTextual()) {
                        StateDictException ex = assertThrows(StateDictException.class, () -> m.load(weights, lenient));
                        assertEquals(nonStrict.asText(), ex.getMessage(), name + " (non-strict)");
                        continue;
                    }
                    LoadReport r = m.load(weights, lenient);
                    assertEquals(strings(nonStrict.get("missing")), r.missingKeys(), name + " missing");
                    assertEquals(strings(nonStrict.get("unexpected")), r.unexpectedKeys(), name + " unexpected");
                    double[] max = {0};
                    same(name, ((PyDict) loaded.root()).get(name), m.forward(args.toArray()), max, device);
                    System.out.printf("torchscript scripted_net + %-15s on %-6s %s -> max |diff| %.3g%n", name, device,
                            r.loadedKeys().size() + " keys", max[0]);
                }
                if (device.equals("cpu") && want.get("strict").asText().equals("ok")) {
                    // the same weights as copy-on-write views of the file: the same outputs
                    try (Checkpoint weights = Checkpoint.open(dir.resolve(name + ".pt"));
                         ScriptedModule m = ScriptedModule.open(dir.resolve("scripted_net.pt"), device)) {
                        LoadReport r = m.load(weights, name.equals("weights_ddp")
                                ? StateDictLoader.builder().stripPrefix("module.").zeroCopy(true).build()
                                : StateDictLoader.builder().zeroCopy(true).build());
                        if (!name.equals("weights_legacy")) {
                            // a zip archive: every record is aligned; a legacy file's storages lie
                            // where the stream put them, and unaligned ones are copied
                            assertEquals(r.loadedKeys(), r.mappedKeys(), name + ": mapped");
                        }
                        double[] max = {0};
                        same(name + " (zero-copy)", ((PyDict) loaded.root()).get(name), m.forward(args.toArray()), max,
                                device);
                        System.out.printf("torchscript scripted_net + %-15s zero-copy, %d of %d keys mapped -> max |diff| %.3g%n",
                                name, r.mappedKeys().size(), r.loadedKeys().size(), max[0]);
                    }
                }
            }
        }
        assertEquals(List.of("weights", "weights_ddp", "weights_legacy", "weights_script", "weights_partial",
                "weights_shape"), seen);
    }

    @Test
    void argumentsThatDoNotFitTheSignatureAreRefusedByName() throws Exception {
        try (ScriptedModule m = ScriptedModule.open(dir.resolve("scripted_net.pt"))) {
            assertEquals(List.of("x: Tensor", "ids: Tensor", "extra: List[Tensor]", "pair: Tuple[Tensor, float]",
                    "k: int", "scale: float", "bias: Optional[Tensor]"), m.signature());
            IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
                    () -> m.forward("not a tensor"));
            assertTrue(ex.getMessage().contains("argument 'x' is Tensor; got String"), ex.getMessage());
        }
        ScriptedModule closed = ScriptedModule.open(dir.resolve("traced_one.pt"));
        closed.close();
        assertThrows(IllegalStateException.class, closed::signature);
    }

    /**
     * {@code want} (torch's value as the reader reads it) against {@code got} (ScriptedModule's
     * result, or another result): tensors within {@link #TOLERANCE} relative, the rest equal.
     */
    @SuppressWarnings("unchecked")
    private static void same(String where, Object want, Object got, double[] max, String device) {
        if (want instanceof io.torchbridge.reader.Tensor w) {
            Tensor g = assertInstanceOf(Tensor.class, got, where);
            assertEquals(device, g.device().is_cuda() ? "cuda:0" : "cpu", where + " device");
            assertEquals(Arrays.toString(w.shape().toArray()), Arrays.toString(g.sizes().vec().get()), where + " shape");
            compare(where, w.toDoubleArray(), doubles(g), max);
        } else if (want instanceof Tensor w) {
            compare(where, doubles(w), doubles(assertInstanceOf(Tensor.class, got, where)), max);
        } else if (want instanceof PyTuple w) {
            PyTuple g = assertInstanceOf(PyTuple.class, got, where);
            assertEquals(w.size(), g.size(), where + " tuple size");
            for (int i = 0; i < w.size(); i++) {
                same(where + "[" + i + "]", w.get(i), g.get(i), max, device);
            }
        } else if (want instanceof PyDict w) {
            Map<Object, Object> g = assertInstanceOf(Map.class, got, where);
            assertEquals(new ArrayList<>(w.items().keySet()), new ArrayList<>(g.keySet()), where + " keys");
            w.items().forEach((k, v) -> same(where + "[" + k + "]", v, g.get(k), max, device));
        } else if (want instanceof List<?> w) {
            List<Object> g = assertInstanceOf(List.class, got, where);
            assertEquals(w.size(), g.size(), where + " list size");
            for (int i = 0; i < w.size(); i++) {
                same(where + "[" + i + "]", w.get(i), g.get(i), max, device);
            }
        } else {
            assertEquals(want, got, where);
        }
    }

    private static void compare(String where, double[] want, double[] got, double[] max) {
        assertEquals(want.length, got.length, where + " size");
        for (int i = 0; i < want.length; i++) {
            double d = Math.abs(want[i] - got[i]);
            max[0] = Math.max(max[0], d);
            if (!(d <= TOLERANCE * Math.max(1, Math.abs(want[i])))) {
                throw new AssertionError(where + ": element " + i + " is " + got[i] + ", torch says " + want[i]);
            }
        }
    }

    private static double[] doubles(Tensor t) {
        Tensor c = t.to(new org.bytedeco.pytorch.Device("cpu"), ScalarType.Double).contiguous();
        double[] out = new double[(int) c.numel()];
        new DoublePointer(c.data_ptr()).capacity(out.length).get(out);
        return out;
    }

    private static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }
}
