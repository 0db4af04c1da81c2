package io.torchbridge.libtorch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.libtorch.internal.ModuleTree;
import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.DType;
import io.torchbridge.reader.PyDict;
import io.torchbridge.reader.Tensor;
import io.torchbridge.testing.Repo;
import io.torchbridge.writer.CheckpointWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Adam;
import org.bytedeco.pytorch.AdamOptions;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Optimizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The same paths on cuda:0. Skipped, and said so, where there is no CUDA (see {@link RequiresCuda}). */
@RequiresCuda
class CudaTest {
    private static final LoadOptions CUDA = LoadOptions.defaults().withMapLocation(MapLocation.to("cuda:0"));

    @TempDir
    Path tmp;

    @Test
    void checkpointTensorsGoToTheGpuWithTheirViewsAndSharing() throws Exception {
        try (Checkpoint ckpt = Checkpoint.open(Repo.fixture("2.14.1", "views.pt"));
             NativeTensorMap sd = NativeTensors.loadAll(ckpt, CUDA)) {
            for (String n : sd.names()) {
                NativeTensor t = sd.get(n);
                assertEquals("cuda:0", t.device(), n);
                assertFalse(t.fileBacked(), n);
                assertArrayEquals(ckpt.tensor(n).info().stride().toArray(), t.stride(), n);
                assertArrayEquals(ckpt.tensor(n).toByteArray(), LibtorchValues.logicalBytes(t.tensor()), n);
            }
            assertTrue(sd.tensor("transpose").is_alias_of(sd.tensor("base")), "one storage on the GPU too");
        }
    }

    @Test
    void aCudaSavedFileLoadsWhereItWasSavedAndCastsOnTheGpu() throws Exception {
        try (Checkpoint ckpt = Checkpoint.open(Repo.fixture("2.14.1", "cuda_tagged.pt"));
             NativeTensorMap sd = NativeTensors.loadAll(ckpt)) {
            assertEquals("cuda:0", sd.get("weight").device(), "map_location keeps the saved cuda:0");
            assertArrayEquals(ckpt.tensor("weight").toByteArray(), LibtorchValues.logicalBytes(sd.tensor("weight")));
        }
        try (Checkpoint ckpt = Checkpoint.open(Repo.fixture("2.14.1", "dtypes_all.pt"));
             NativeTensor t = NativeTensors.load(ckpt.tensor("bfloat16"), CUDA.withCast(DType.BFLOAT16, DType.FLOAT32))) {
            assertEquals(DType.FLOAT32, t.dtype());
            assertArrayEquals(ckpt.tensor("bfloat16").toFloatArray(), LibtorchValues.floats(t.tensor()));
        }
    }

    @Test
    void gpuTensorsAreSavedTaggedCudaOrAsAskedWithTheirValues() throws Exception {
        Path out = tmp.resolve("gpu.pt");
        try (Checkpoint ckpt = Checkpoint.open(Repo.fixture("2.14.1", "views.pt"));
             NativeTensorMap sd = NativeTensors.loadAll(ckpt, CUDA)) {
            Map<String, org.bytedeco.pytorch.Tensor> pick = new LinkedHashMap<>();
            pick.put("base", sd.tensor("base"));
            pick.put("transpose", sd.tensor("transpose"));
            Map<String, Object> tree = new LinkedHashMap<>(NativeTensors.toNewTensors(pick, null));
            tree.put("as_cpu", NativeTensors.toNewTensor(sd.tensor("narrow"), "cpu"));
            CheckpointWriter.save(new PyDict(PyDict.DICT, tree, Map.of()), out);
            try (Checkpoint back = Checkpoint.open(out)) {
                assertEquals("cuda:0", back.tensor("base").info().storage().location());
                assertEquals("cpu", back.tensor("as_cpu").info().storage().location());
                assertEquals(back.tensor("base").info().storage().key(), back.tensor("transpose").info().storage().key());
                for (String n : List.of("base", "transpose")) {
                    assertArrayEquals(ckpt.tensor(n).toByteArray(), back.tensor(n).toByteArray(), n);
                }
                assertArrayEquals(ckpt.tensor("narrow").toByteArray(), back.tensor("as_cpu").toByteArray());
            }
        }
    }

    @Test
    void aGpuModuleLoadsAndExportsItsStateDictAndOptimizer() throws Exception {
        TestModels.Net net = new TestModels.Net();
        net.to(new Device("cuda:0"), false);
        Path out = tmp.resolve("net.pt");
        try (Checkpoint py = Checkpoint.open(Repo.fixture("2.14.1", "module_net.pt"))) {
            StateDictLoader.strict().load(net, py);
            Map<String, org.bytedeco.pytorch.Tensor> model = ModuleTree.stateDict(ModuleTree.walk(net));
            for (String k : py.names()) {
                assertTrue(model.get(k).is_cuda(), k);
                assertArrayEquals(py.tensor(k).toByteArray(), LibtorchValues.logicalBytes(model.get(k)), k);
            }
            CheckpointWriter.save(Map.of("gpu", StateDictExporter.stateDict(net),
                    "cpu", StateDictExporter.stateDict(net, "cpu")), out);
            try (Checkpoint back = Checkpoint.open(out)) {
                for (String k : py.names()) {
                    Tensor g = back.tensor("gpu." + k);
                    assertEquals("cuda:0", g.info().storage().location(), k);
                    assertEquals("cpu", back.tensor("cpu." + k).info().storage().location(), k);
                    assertArrayEquals(py.tensor(k).toByteArray(), g.toByteArray(), k);
                }
            }
        }
        TestModels.Net zeroCopy = new TestModels.Net();
        zeroCopy.to(new Device("cuda:0"), false);
        try (Checkpoint py = Checkpoint.open(Repo.fixture("2.14.1", "module_net.pt"))) {
            // views of the file are CPU memory: a CUDA module gets copies, and the report says so
            LoadReport r = StateDictLoader.builder().zeroCopy(true).build().load(zeroCopy, py);
            assertEquals(List.of(), r.mappedKeys());
            Map<String, org.bytedeco.pytorch.Tensor> model = ModuleTree.stateDict(ModuleTree.walk(zeroCopy));
            for (String k : py.names()) {
                assertTrue(model.get(k).is_cuda(), k);
                assertArrayEquals(py.tensor(k).toByteArray(), LibtorchValues.logicalBytes(model.get(k)), k);
            }
        }
        try (Checkpoint ckpt = Checkpoint.open(Repo.fixture("2.14.1", "training_adam.pt"))) {
            TestModels.Small small = new TestModels.Small();
            small.to(new Device("cuda:0"), false);
            StateDictLoader.builder().entry("model").build().load(small, ckpt);
            Optimizer adam = new Adam(small.parameters(), new AdamOptions(0.5));
            OptimizerStates.restore(adam, ckpt.value("optimizer"));
            PyDict back = OptimizerStates.export(adam, "cpu");
            PyDict state0 = (PyDict) ((PyDict) back.get("state")).get(0L);
            Path o = tmp.resolve("adam.pt");
            CheckpointWriter.save(back, o);
            try (Checkpoint again = Checkpoint.open(o)) {
                assertArrayEquals(ckpt.tensor("optimizer.state.0.exp_avg").toByteArray(),
                        again.tensor("state.0.exp_avg").toByteArray());
            }
            assertTrue(state0.items().containsKey("exp_avg_sq"));
        }
    }
}
