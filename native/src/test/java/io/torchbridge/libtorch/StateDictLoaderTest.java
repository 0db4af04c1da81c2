package io.torchbridge.libtorch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.libtorch.LoadReport.Mismatch;
import io.torchbridge.libtorch.internal.ModuleTree;
import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.PyDict;
import io.torchbridge.testing.Repo;
import io.torchbridge.writer.CheckpointWriter;
import io.torchbridge.writer.NewTensor;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/** load_state_dict into libtorch modules, on state dicts real PyTorch wrote (the committed fixtures). */
class StateDictLoaderTest {
    private static final LoadOptions CPU = LoadOptions.defaults().withMapLocation(MapLocation.to("cpu"));

    @TestFactory
    Stream<DynamicTest> pythonStateDictsLoadStrictlyIntoTheSameModuleBuiltInJava() {
        return Repo.TORCH_VERSIONS.stream().map(v -> DynamicTest.dynamicTest("torch " + v, () -> {
            TestModels.Net net = new TestModels.Net();
            try (Checkpoint ckpt = Checkpoint.open(Repo.fixture(v, "module_net.pt"))) {
                LoadReport r = StateDictLoader.strict().load(net, ckpt);
                assertTrue(r.allMatched(), r.toString());
                assertEquals(ckpt.names(), r.loadedKeys(), "every entry, in the module's order");
                Map<String, org.bytedeco.pytorch.Tensor> model = ModuleTree.stateDict(ModuleTree.walk(net));
                for (String k : ckpt.names()) {
                    assertArrayEquals(ckpt.tensor(k).toByteArray(), LibtorchValues.logicalBytes(model.get(k)), k);
                }
                assertEquals(2, model.get("bn.num_batches_tracked").item_long(), "BatchNorm's counter too");
            }
        }));
    }

    @Test
    void aTorchScriptArchiveLoadsThroughItsStateDict() throws Exception {
        // torch.jit.save of fixtures/torchscript.py's MLP in float64: strict loading into the same
        // architecture built in Java, every value cast to the module's float32 as copy_ does
        TestModels.Mlp mlp = new TestModels.Mlp();
        try (Checkpoint ckpt = Checkpoint.open(Repo.fixtures().resolve("torchscript-2.14.1/scripted_double.pt"))) {
            LoadReport r = StateDictLoader.strict().load(mlp, ckpt);
            assertEquals(List.of("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"), r.loadedKeys());
            double[] w = ckpt.tensor("fc2.weight").toDoubleArray();
            float[] got = LibtorchValues.floats(mlp.fc2.weight());
            assertEquals(w.length, got.length);
            for (int i = 0; i < w.length; i++) {
                assertEquals((float) w[i], got[i], "fc2.weight[" + i + "]");
            }
        }
    }

    @Test
    void strictLoadingListsMissingAndUnexpectedKeysAsPyTorchDoesAndChangesNothing() throws Exception {
        TestModels.Net net = new TestModels.Net();
        float before = LibtorchValues.floats(net.fc.weight())[0];
        try (Checkpoint ckpt = Checkpoint.open(Repo.fixture("2.14.1", "module_net.pt"))) {
            Map<String, Object> sd = new LinkedHashMap<>(strings(ckpt));
            sd.remove("fc.bias");
            sd.remove("conv1d.weight");
            sd.put("fc4.weight", ckpt.tensor("fc.weight"));
            sd.put("bn.extra", ckpt.tensor("fc.weight"));
            sd.put("emb.sub.weight", ckpt.tensor("fc.weight"));
            StateDictException e = assertThrows(StateDictException.class, () -> StateDictLoader.strict().load(net, sd));
            assertEquals("Error(s) in loading state_dict for Net:\n"
                    + "\tMissing key(s) in state_dict: \"conv1d.weight\", \"fc.bias\". \n"
                    + "\tUnexpected key(s) in state_dict: \"fc4.weight\", \"bn.extra\", \"emb.sub.weight\". ",
                    e.getMessage());
            assertEquals(List.of("conv1d.weight", "fc.bias"), e.report().missingKeys());
            assertEquals(before, LibtorchValues.floats(net.fc.weight())[0], "nothing was copied");

            LoadReport r = StateDictLoader.builder().strict(false).build().load(net, sd);
            assertEquals(List.of("conv1d.weight", "fc.bias"), r.missingKeys());
            assertEquals(List.of("fc4.weight", "bn.extra", "emb.sub.weight"), r.unexpectedKeys());
            assertFalse(r.loadedKeys().contains("fc.bias"));
            assertEquals(ckpt.tensor("fc.weight").toFloatArray()[0], LibtorchValues.floats(net.fc.weight())[0]);
        }
    }

    @Test
    void aShapeMismatchFailsEvenWhenNotStrictUnlessSkipped() throws Exception {
        TestModels.Net net = new TestModels.Net();
        try (Checkpoint ckpt = Checkpoint.open(Repo.fixture("2.14.1", "module_net.pt"))) {
            Map<String, Object> sd = new LinkedHashMap<>(strings(ckpt));
            sd.put("fc.weight", ckpt.tensor("emb.weight"));
            for (boolean strict : new boolean[] {true, false}) {
                StateDictException e = assertThrows(StateDictException.class,
                        () -> StateDictLoader.builder().strict(strict).build().load(net, sd));
                assertEquals("Error(s) in loading state_dict for Net:\n\tsize mismatch for fc.weight: copying a param "
                        + "with shape torch.Size([10, 4]) from checkpoint, the shape in current model is "
                        + "torch.Size([2, 4]).", e.getMessage());
            }
            // Transfer learning: a new head of another size keeps its own weights, the rest loads.
            LoadReport r = StateDictLoader.builder().strict(false).skipMismatched(true).build().load(net, sd);
            assertEquals(1, r.mismatches().size());
            assertEquals(Mismatch.Kind.SHAPE, r.mismatches().get(0).kind());
            assertTrue(r.loadedKeys().contains("fc.bias"));
            assertFalse(r.loadedKeys().contains("fc.weight"));
        }
    }

    @Test
    void keyRulesUndoDataParallelAndRenamePrefixes() throws Exception {
        try (Checkpoint ckpt = Checkpoint.open(Repo.fixture("2.14.1", "module_net.pt"))) {
            Map<String, Object> dp = new LinkedHashMap<>();
            strings(ckpt).forEach((k, v) -> dp.put("module." + k, v));
            LoadReport r = StateDictLoader.builder().stripPrefix("module.").build().load(new TestModels.Net(), dp);
            assertTrue(r.allMatched());

            Map<String, Object> renamed = new LinkedHashMap<>();
            strings(ckpt).forEach((k, v) -> renamed.put(k.replace("fc.", "head.").replace("conv2d.", "features.0."), v));
            r = StateDictLoader.builder().rename("^head\\.", "fc.").rename("^features\\.0\\.", "conv2d.")
                    .build().load(new TestModels.Net(), renamed);
            assertTrue(r.allMatched(), r.toString());

            // A backbone wrapped one level deeper, loaded into the bare network.
            Map<String, Object> wrapped = new LinkedHashMap<>();
            strings(ckpt).forEach((k, v) -> wrapped.put("backbone." + k, v));
            wrapped.put("classifier.weight", ckpt.tensor("fc.weight"));
            r = StateDictLoader.builder().include("^backbone\\.").stripPrefix("backbone.").build()
                    .load(new TestModels.Net(), wrapped);
            assertTrue(r.allMatched(), r.toString());

            IllegalArgumentException clash = assertThrows(IllegalArgumentException.class,
                    () -> StateDictLoader.builder().renameKeys(k -> "same").build().load(new TestModels.Net(), dp));
            assertTrue(clash.getMessage().contains("both become 'same'"), clash.getMessage());
        }
    }

    @Test
    void aTrainingCheckpointsSubDictLoadsByItsPath() throws Exception {
        try (Checkpoint ckpt = Checkpoint.open(Repo.fixture("2.14.1", "training_adam.pt"))) {
            TestModels.Small small = new TestModels.Small();
            LoadReport r = StateDictLoader.builder().entry("model").build().load(small, ckpt);
            assertEquals(List.of("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"), r.loadedKeys());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> StateDictLoader.strict().load(new TestModels.Small(), ckpt.value("epoch")));
            assertTrue(e.getMessage().contains("dict of tensors"), e.getMessage());
        }
    }

    @Test
    void oldBatchNormFilesWithoutTheCounterLoadAsInPyTorch() throws Exception {
        try (Checkpoint ckpt = Checkpoint.open(Repo.fixture("2.14.1", "module_net.pt"))) {
            Map<String, Object> sd = new LinkedHashMap<>(strings(ckpt));
            sd.remove("bn.num_batches_tracked");
            // A plain dict has no _metadata, so the module's version is unknown: PyTorch keeps its counter.
            LoadReport r = StateDictLoader.strict().load(new TestModels.Net(), sd);
            assertTrue(r.missingKeys().isEmpty(), r.toString());

            PyDict root = (PyDict) ckpt.root();
            PyDict v2 = new PyDict(root.pythonClass(), sd, root.attributes());
            StateDictException e = assertThrows(StateDictException.class,
                    () -> StateDictLoader.strict().load(new TestModels.Net(), v2));
            assertEquals(List.of("bn.num_batches_tracked"), e.report().missingKeys(), "version 2 files must have it");
        }
    }

    @Test
    void otherDtypesAreCastLikeCopyUnlessRefused() throws Exception {
        TestModels.Small small = new TestModels.Small();
        try (Checkpoint ckpt = Checkpoint.open(Repo.fixture("2.14.1", "training_adam.pt"))) {
            PyDict model = (PyDict) ckpt.value("model");
            Map<String, Object> sd = new LinkedHashMap<>(strings(model));
            org.bytedeco.pytorch.Tensor d = torch.ones(3, 4).to(torch.ScalarType.Double);
            sd.put("fc1.weight", d);
            LoadReport r = StateDictLoader.strict().load(small, sd);
            assertEquals(List.of("fc1.weight"), r.castKeys());
            assertEquals(1f, LibtorchValues.floats(small.fc1.weight())[5]);
            StateDictException refused = assertThrows(StateDictException.class,
                    () -> StateDictLoader.builder().castDtypes(false).build().load(small, sd));
            assertTrue(refused.getMessage().endsWith("dtype mismatch for fc1.weight: copying a param with dtype "
                    + "torch.float64 from checkpoint, the dtype in current model is torch.float32."), refused.getMessage());
            sd.put("fc1.bias", 3L);
            StateDictException e = assertThrows(StateDictException.class, () -> StateDictLoader.strict().load(small, sd));
            assertTrue(e.getMessage().endsWith("While copying the parameter named \"fc1.bias\", expected torch.Tensor "
                    + "or Tensor-like object from checkpoint but received <class 'int'>"), e.getMessage());
            d.close();
        }
    }

    @Test
    void valuesMayComeFromLibtorchAndNativeTensorsAndGoOntoTheModulesDevice() throws Exception {
        try (Checkpoint ckpt = Checkpoint.open(Repo.fixture("2.14.1", "cuda_tagged.pt"));
             NativeTensorMap sd = NativeTensors.loadAll(ckpt, CPU)) {
            org.bytedeco.pytorch.LinearImpl lin = new org.bytedeco.pytorch.LinearImpl(3, 2);
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("weight", sd.get("weight"));
            m.put("bias", sd.tensor("bias").narrow(0, 0, 2));
            LoadReport r = StateDictLoader.strict().load(lin, m);
            assertTrue(r.allMatched(), r.toString());
            assertArrayEquals(ckpt.tensor("weight").toByteArray(), LibtorchValues.logicalBytes(lin.weight()));

            // The file is tagged cuda:0, yet it loads into a CPU module with no map_location: the
            // values go straight from the mapping into the module's tensors.
            org.bytedeco.pytorch.LinearImpl fresh = new org.bytedeco.pytorch.LinearImpl(3, 2);
            StateDictException e = assertThrows(StateDictException.class,
                    () -> StateDictLoader.builder().exclude("^bias$").build().load(fresh, ckpt));
            assertEquals(List.of("bias"), e.report().missingKeys());
            LoadReport partial = StateDictLoader.builder().strict(false).exclude("^bias$").build().load(fresh, ckpt);
            assertEquals(List.of("weight"), partial.loadedKeys());
            assertArrayEquals(ckpt.tensor("weight").toByteArray(), LibtorchValues.logicalBytes(fresh.weight()));
        }
    }

    private static Map<String, Object> strings(Checkpoint ckpt) {
        return strings((PyDict) ckpt.root());
    }

    private static Map<String, Object> strings(PyDict d) {
        Map<String, Object> out = new LinkedHashMap<>();
        d.items().forEach((k, v) -> out.put((String) k, v));
        return out;
    }

    @Test
    void oneDimensionalValuesLoadIntoZeroDimensionalTensors() {
        org.bytedeco.pytorch.BatchNorm2dImpl bn = new org.bytedeco.pytorch.BatchNorm2dImpl(
                new org.bytedeco.pytorch.BatchNormOptions(2));
        Map<String, Object> sd = new LinkedHashMap<>();
        for (String k : ModuleTree.stateDict(ModuleTree.walk(bn)).keySet()) {
            sd.put(k, ModuleTree.stateDict(ModuleTree.walk(bn)).get(k).clone());
        }
        org.bytedeco.pytorch.Tensor seven = torch.empty(new long[] {1},
                new org.bytedeco.pytorch.TensorOptions(torch.ScalarType.Long), null);
        seven.fill_(new org.bytedeco.pytorch.Scalar(7L));
        sd.put("num_batches_tracked", seven);
        StateDictLoader.strict().load(bn, sd);
        assertEquals(7, ModuleTree.stateDict(ModuleTree.walk(bn)).get("num_batches_tracked").item_long());
    }

    @Test
    void largeTensorsGoFromTheMappingInPiecesAndCountAsWrites(@TempDir Path tmp) throws Exception {
        // 36 MB of weight: several pieces, shared over the threads; the bias as a transposed
        // (non-contiguous) view takes libtorch's copy_ instead. Values must be libtorch's own.
        org.bytedeco.pytorch.Tensor w = torch.randn(3000, 3000);
        org.bytedeco.pytorch.Tensor b = torch.randn(1, 3000).t();
        Path file = tmp.resolve("big.pt");
        Map<String, org.bytedeco.pytorch.Tensor> values = new LinkedHashMap<>();
        values.put("weight", w);
        values.put("bias", b.squeeze(1));
        CheckpointWriter.save(new PyDict(PyDict.DICT, NativeTensors.toNewTensors(values, null), Map.of()), file);
        org.bytedeco.pytorch.LinearImpl lin = new org.bytedeco.pytorch.LinearImpl(3000, 3000);
        long version = lin.weight()._version();
        try (Checkpoint ckpt = Checkpoint.open(file)) {
            assertTrue(ckpt.tensor("weight").info().isContiguous());
            LoadReport r = StateDictLoader.strict().load(lin, ckpt);
            assertTrue(r.allMatched(), r.toString());
        }
        assertArrayEquals(LibtorchValues.logicalBytes(w), LibtorchValues.logicalBytes(lin.weight()));
        assertArrayEquals(LibtorchValues.logicalBytes(b.squeeze(1)), LibtorchValues.logicalBytes(lin.bias()));
        assertTrue(lin.weight()._version() > version, "a load is a write, as copy_ is (autograd sees it)");
    }

    @Test
    void ofTwoValuesForOneTiedTensorTheLastIsKept(@TempDir Path tmp) throws Exception {
        // one tensor registered twice (tied weights): "a" goes straight from the mapping, "b" needs
        // a cast (copy_); in Python the later key wins, whichever way each is copied
        Path file = tmp.resolve("tied.pt");
        Map<String, NewTensor> values = new LinkedHashMap<>();
        values.put("a", NewTensor.of(new float[] {1, 1, 1}, 3));
        values.put("b", NewTensor.of(new double[] {2, 2, 2}, 3));
        CheckpointWriter.save(new PyDict(PyDict.DICT, values, Map.of()), file);
        org.bytedeco.pytorch.Module m = new org.bytedeco.pytorch.Module();
        org.bytedeco.pytorch.Tensor t = torch.zeros(3);
        m.register_parameter("a", t);
        m.register_parameter("b", t);
        try (Checkpoint ckpt = Checkpoint.open(file)) {
            StateDictLoader.strict().load(m, ckpt);
        }
        assertArrayEquals(new float[] {2, 2, 2}, LibtorchValues.floats(m.named_parameters(true).get(0).value()));
    }
}
