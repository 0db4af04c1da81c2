package io.torchbridge.libtorch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.PyDict;
import io.torchbridge.testing.Repo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/**
 * ScriptedModule over the committed TorchScript fixture of torch 2.14 (scripted_nested: a
 * submodule with a buffer, BatchNorm1d, Embedding, a Sequential head), without Python: the key
 * order comes from torch's manifest; live comparisons with torch's outputs are in compat-tests.
 */
class ScriptedModuleTest {
    static Path archive() {
        return Repo.fixtures().resolve("torchscript-2.14.1").resolve("scripted_nested.pt");
    }

    static Tensor input() {
        return torch.arange(new org.bytedeco.pytorch.Scalar(12.0)).reshape(4, 3).div(new org.bytedeco.pytorch.Scalar(7.0));
    }

    @Test
    void itsOwnStateDictLoadsStrictlyInTorchsKeyOrder() throws Exception {
        // The manifest's tensors, in torch's state_dict() order (one "name" per tensor entry).
        String manifest = Files.readString(
                Repo.fixtures().resolve("torchscript-2.14.1").resolve("scripted_nested.manifest.json"));
        List<String> want = new ArrayList<>();
        Matcher names = Pattern.compile("\\{\"name\": \"([^\"]+)\"").matcher(manifest.substring(manifest.indexOf("\"tensors\"")));
        while (names.find()) {
            want.add(names.group(1));
        }
        assertEquals(13, want.size(), want.toString());
        try (ScriptedModule m = ScriptedModule.open(archive()); Checkpoint ckpt = Checkpoint.open(archive())) {
            LoadReport r = m.load(ckpt);
            assertTrue(r.allMatched(), r.toString());
            assertEquals(want, r.loadedKeys());
        }
    }

    @Test
    void newWeightsChangeWhatForwardComputes() throws Exception {
        try (ScriptedModule m = ScriptedModule.open(archive())) {
            m.eval();
            Tensor before = m.forwardTensor(input());
            assertTrue(before.abs().sum().item_double() > 0);
            Map<String, Object> zeros = new LinkedHashMap<>();
            zeros.put("head.2.weight", torch.zeros(1, 4));
            zeros.put("head.2.bias", torch.zeros(1));
            LoadReport r = StateDictLoader.builder().strict(false).build().load(m, zeros);
            assertEquals(List.of("head.2.weight", "head.2.bias"), r.loadedKeys());
            assertTrue(r.missingKeys().contains("a.count") && r.missingKeys().contains("bn.num_batches_tracked"),
                    "BatchNorm of a scripted module is version 1 in Python: num_batches_tracked is missing");
            Tensor after = m.forwardTensor(input());
            assertEquals(0.0, after.abs().sum().item_double(), "a zero last layer gives zeros");
        }
    }

    @Test
    void prefixesAreHandledAsForAJavaModule() throws Exception {
        try (ScriptedModule m = ScriptedModule.open(archive()); Checkpoint ckpt = Checkpoint.open(archive())) {
            PyDict sd = ckpt.stateDict().orElseThrow();
            Map<String, Object> ddp = new LinkedHashMap<>();
            sd.items().forEach((k, v) -> ddp.put("module." + k, v));
            assertThrows(StateDictException.class, () -> StateDictLoader.strict().load(m, ddp));
            assertTrue(StateDictLoader.builder().stripPrefix("module.").build().load(m, ddp).allMatched());
        }
    }

    @Test
    void aFailedLoadLeavesTheModuleAsItWas() throws Exception {
        try (ScriptedModule m = ScriptedModule.open(archive()).eval(); Checkpoint ckpt = Checkpoint.open(archive())) {
            float[] before = LibtorchValues.floats(m.forwardTensor(input()));
            Map<String, Object> sd = new LinkedHashMap<>();
            ckpt.stateDict().orElseThrow().items().forEach((k, v) -> sd.put((String) k, v));
            sd.put("head.0.weight", torch.zeros(2, 2));
            StateDictException ex = assertThrows(StateDictException.class, () -> StateDictLoader.strict().load(m, sd));
            assertTrue(ex.getMessage().startsWith("Error(s) in loading state_dict for RecursiveScriptModule:\n\t"
                    + "size mismatch for head.0.weight"), ex.getMessage());
            assertArrayEquals(before, LibtorchValues.floats(m.forwardTensor(input())));
        }
    }

    @Test
    void misuseIsRefusedPlainly() throws Exception {
        assertThrows(IllegalArgumentException.class, () -> ScriptedModule.open(archive().resolveSibling("absent.pt")));
        assertThrows(IllegalArgumentException.class,
                () -> ScriptedModule.open(Repo.fixtures().resolve("torchscript-2.14.1").resolve("scripted_nested.manifest.json")));
        try (ScriptedModule m = ScriptedModule.open(archive())) {
            assertEquals(List.of("x: Tensor"), m.signature());
            IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> m.forward(3L));
            assertEquals("argument 'x' is Tensor; got Long", ex.getMessage());
            assertThrows(IllegalArgumentException.class, () -> m.forward(input(), input()));
            assertThrows(IllegalArgumentException.class, () -> m.forward(torch.zeros(2, 5)), "libtorch's shape error");
        }
        ScriptedModule closed = ScriptedModule.open(archive());
        closed.close();
        closed.close();
        assertThrows(IllegalStateException.class, closed::jit);
        assertFalse(closed.toString().isEmpty());
        if (Libtorch.whyNoCuda() != null) {
            assertThrows(IllegalStateException.class, () -> ScriptedModule.open(archive(), "cuda:0"));
        }
    }

    /** The archive opened on cuda:0 with weights from the (CPU) file: the CPU's outputs. */
    @Test
    @RequiresCuda
    void theSameOutputsOnCuda() throws Exception {
        float[] cpu;
        try (ScriptedModule m = ScriptedModule.open(archive()).eval()) {
            cpu = LibtorchValues.floats(m.forwardTensor(input()));
        }
        try (ScriptedModule m = ScriptedModule.open(archive(), "cuda:0").eval();
             Checkpoint ckpt = Checkpoint.open(archive())) {
            assertTrue(m.load(ckpt).allMatched());
            Tensor out = m.forwardTensor(input().to(new org.bytedeco.pytorch.Device("cuda:0"), torch.ScalarType.Float));
            assertTrue(out.device().is_cuda());
            float[] gpu = LibtorchValues.floats(out.cpu());
            assertEquals(cpu.length, gpu.length);
            for (int i = 0; i < cpu.length; i++) {
                assertEquals(cpu[i], gpu[i], 1e-5 * Math.max(1, Math.abs(cpu[i])), "element " + i);
            }
        }
    }
}
