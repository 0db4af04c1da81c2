package io.torchbridge.libtorch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.libtorch.internal.FileMappings;
import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.DType;
import io.torchbridge.reader.PyDict;
import io.torchbridge.reader.Tensor;
import io.torchbridge.reader.TensorInfo;
import io.torchbridge.testing.Repo;
import io.torchbridge.writer.CheckpointWriter;
import io.torchbridge.writer.NewTensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/** Reader tensors into libtorch and back, over every committed real-PyTorch fixture. */
class NativeTensorsTest {
    @TempDir
    Path tmp;

    /** A storage saved on a CUDA device is only placed where this machine has one, unless mapped. */
    static LoadOptions cpuIfNeeded(Checkpoint ckpt) {
        boolean cuda = ckpt.tensors().values().stream().anyMatch(t -> t.info().storage().location().startsWith("cuda"));
        return cuda && !Libtorch.cudaAvailable() ? LoadOptions.defaults().withMapLocation(MapLocation.to("cpu"))
                : LoadOptions.defaults();
    }

    @TestFactory
    Stream<DynamicTest> everyFixtureTensorKeepsItsLayoutAndValues() throws Exception {
        List<DynamicTest> tests = new ArrayList<>();
        for (String v : Repo.TORCH_VERSIONS) {
            for (Path p : Repo.checkpoints(v)) {
                tests.add(DynamicTest.dynamicTest("torch " + v + " " + p.getFileName(), () -> checkFixture(p)));
            }
        }
        return tests.stream();
    }

    private static void checkFixture(Path p) throws Exception {
        try (Checkpoint ckpt = Checkpoint.open(p)) {
            List<Map.Entry<String, Tensor>> supported = new ArrayList<>();
            for (var e : ckpt.tensors().entrySet()) {
                if (e.getValue().dtype().family() != DType.Family.QUANTIZED) {
                    supported.add(e);
                }
            }
            Map<String, NativeTensor> loaded = NativeTensors.loadAll(supported, cpuIfNeeded(ckpt));
            try {
                Map<String, org.bytedeco.pytorch.Tensor> byKey = new LinkedHashMap<>();
                for (var e : supported) {
                    TensorInfo info = e.getValue().info();
                    NativeTensor n = loaded.get(e.getKey());
                    String what = p.getFileName() + " " + e.getKey();
                    assertEquals(info.dtype(), n.dtype(), what);
                    assertArrayEquals(info.shape().toArray(), n.shape(), what + " shape");
                    assertArrayEquals(info.stride().toArray(), n.stride(), what + " stride");
                    assertEquals(info.storageOffset(), n.storageOffset(), what + " offset");
                    assertEquals(info.conj() && info.dtype().family() == DType.Family.COMPLEX, n.tensor().is_conj(),
                            what + " conj");
                    assertEquals(info.neg(), n.tensor().is_neg(), what + " neg");
                    assertEquals(info.requiresGrad(), n.tensor().requires_grad(), what + " requires_grad");
                    assertArrayEquals(e.getValue().toByteArray(), LibtorchValues.logicalBytes(n.tensor()), what + " values");
                    org.bytedeco.pytorch.Tensor first = byKey.putIfAbsent(info.storage().key(), n.tensor());
                    if (first != null && info.storage().nbytes() > 0) {
                        assertTrue(n.tensor().is_alias_of(first), what + " shares its storage");
                    }
                }
            } finally {
                loaded.values().forEach(NativeTensor::close);
            }
        }
    }

    @Test
    void aNameTwoPathsProduceIsNotLoadedByNameButEachTensorByItsKeys() throws Exception {
        // torch.save({'x.y': {'z': a}, 'x': {'y.z': b}}) (fixtures/kinds): both are "x.y.z"
        try (Checkpoint ckpt = Checkpoint.open(Repo.fixtures().resolve("kinds/samples/collision.pt"))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NativeTensors.loadAll(ckpt));
            assertTrue(e.getMessage().contains("[x.y.z]") && e.getMessage().contains("tensorAt"), e.getMessage());
            try (NativeTensor a = NativeTensors.load(ckpt.tensorAt("x.y", "z"));
                 NativeTensor b = NativeTensors.load(ckpt.tensorAt("x", "y.z"))) {
                assertArrayEquals(ckpt.tensorAt("x.y", "z").toFloatArray(), LibtorchValues.floats(a.tensor()));
                assertArrayEquals(ckpt.tensorAt("x", "y.z").toFloatArray(), LibtorchValues.floats(b.tensor()));
            }
        }
    }

    @Test
    void sparseAndQuantizedTensorsAreRefusedNotMisread() throws Exception {
        // their info describes a dense copy (sparse) or needs a quantizer (quantized): a plain view would be wrong
        try (Checkpoint ckpt = Checkpoint.open(Repo.fixtures().resolve("qsparse-2.14.1/mixed.pt"))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NativeTensors.loadAll(ckpt));
            assertTrue(e.getMessage().contains("quint8"), e.getMessage());
            var sparse = new ArrayList<>(List.of(Map.entry("s", ckpt.tensor("s"))));
            e = assertThrows(IllegalArgumentException.class, () -> NativeTensors.loadAll(sparse, LoadOptions.defaults()));
            assertTrue(e.getMessage().contains("sparse_coo"), e.getMessage());
        }
    }

    @Test
    void cpuTensorsAreViewsOfTheMappedFileThatOutliveTheCheckpoint() throws Exception {
        NativeTensorMap sd;
        byte[] want;
        try (Checkpoint ckpt = Checkpoint.open(Repo.fixture("2.14.1", "views.pt"))) {
            want = ckpt.tensor("transpose").toByteArray();
            sd = NativeTensors.loadAll(ckpt);
        }
        try (sd) {
            assertTrue(sd.get("transpose").fileBacked());
            assertTrue(FileMappings.live() > 0);
            System.gc();
            assertArrayEquals(want, LibtorchValues.logicalBytes(sd.tensor("transpose")), "readable after close and GC");
        }
        assertThrows(IllegalStateException.class, () -> sd.tensor("transpose"));
        // The views are gone, so libtorch freed the storages and released their mappings.
        assertEquals(0, FileMappings.live());
    }

    @Test
    void writableTensorsAreCopiesThatMayChange() throws Exception {
        try (Checkpoint ckpt = Checkpoint.open(Repo.fixture("2.14.1", "views.pt"));
             NativeTensor t = NativeTensors.load(ckpt.tensor("base"), LoadOptions.defaults().withWritable(true))) {
            assertFalse(t.fileBacked());
            t.tensor().add_(new org.bytedeco.pytorch.Scalar(1.0)); // in-place: returns this same handle
            float[] after = new float[48];
            new org.bytedeco.javacpp.FloatPointer(t.tensor().data_ptr()).get(after);
            assertEquals(1f, after[0]);
            assertEquals(0f, ckpt.tensor("base").toFloatArray()[0], "the file is unchanged");
        }
    }

    @Test
    void aClosedTensorRefusesUse() throws Exception {
        NativeTensor t;
        try (Checkpoint ckpt = Checkpoint.open(Repo.fixture("2.14.1", "views.pt"))) {
            t = NativeTensors.load(ckpt.tensor("row"));
        }
        t.close();
        t.close();
        assertTrue(t.isClosed());
        assertThrows(IllegalStateException.class, t::tensor);
        assertThrows(IllegalStateException.class, t::shape);
    }

    @Test
    void bfloat16CastToFloat32OnLoad() throws Exception {
        try (Checkpoint ckpt = Checkpoint.open(Repo.fixture("2.14.1", "dtypes_all.pt"));
             NativeTensor t = NativeTensors.load(ckpt.tensor("bfloat16"),
                     LoadOptions.defaults().withCast(DType.BFLOAT16, DType.FLOAT32))) {
            assertEquals(DType.FLOAT32, t.dtype());
            assertFalse(t.fileBacked());
            float[] got = new float[6];
            try (var c = t.tensor().contiguous()) {
                new org.bytedeco.javacpp.FloatPointer(c.data_ptr()).get(got);
            }
            assertArrayEquals(ckpt.tensor("bfloat16").toFloatArray(), got);
        }
    }

    @Test
    void cudaSavedStoragesNeedCudaOrAMapping() throws Exception {
        try (Checkpoint ckpt = Checkpoint.open(Repo.fixture("2.14.1", "cuda_tagged.pt"))) {
            if (!Libtorch.cudaAvailable()) {
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> NativeTensors.loadAll(ckpt));
                assertTrue(e.getMessage().startsWith("Attempting to deserialize object on a CUDA device but "
                        + "torch.cuda.is_available() is False. If you are running on a CPU-only machine, please use "
                        + "torch.load with map_location=torch.device('cpu') to map your storages to the CPU."),
                        e.getMessage());
            }
            for (MapLocation m : List.of(MapLocation.to("cpu"), MapLocation.remap(Map.of("cuda:0", "cpu")),
                    MapLocation.using(tag -> tag.startsWith("cuda") ? "cpu" : null))) {
                try (NativeTensorMap sd = NativeTensors.loadAll(ckpt, LoadOptions.defaults().withMapLocation(m))) {
                    assertEquals("cpu", sd.get("weight").device(), m.toString());
                    assertArrayEquals(ckpt.tensor("weight").toByteArray(), LibtorchValues.logicalBytes(sd.tensor("weight")));
                }
            }
        }
    }

    @Test
    void aMissingCudaDeviceIsNamedWithTheDeviceCount() throws Exception {
        try (Checkpoint ckpt = Checkpoint.open(Repo.fixture("2.14.1", "views.pt"))) {
            int count = Libtorch.cudaDeviceCount();
            LoadOptions o = LoadOptions.defaults().withMapLocation(MapLocation.to("cuda:" + Math.max(count, 1)));
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> NativeTensors.loadAll(ckpt, o));
            if (count > 0) {
                assertTrue(e.getMessage().startsWith("Attempting to deserialize object on CUDA device " + count
                        + " but torch.cuda.device_count() is " + count + "."), e.getMessage());
            }
        }
    }

    @Test
    void mapLocationHasPyTorchsMeaning() {
        assertEquals("cuda:0", MapLocation.keep().target("cuda"));
        assertEquals("cuda:1", MapLocation.keep().target("cuda:1"));
        assertEquals("cpu", MapLocation.to("cpu").target("cuda:1"));
        assertEquals("cuda:1", MapLocation.to("cuda:1").target("cpu"));
        MapLocation remap = MapLocation.remap(Map.of("cuda:1", "cuda:0"));
        assertEquals("cuda:0", remap.target("cuda:1"));
        assertEquals("cpu", remap.target("cpu"));
        assertEquals("cuda:2", remap.target("cuda:2"));
        assertEquals("cpu", MapLocation.using(tag -> null).target("cpu"));
        assertThrows(IllegalArgumentException.class, () -> MapLocation.to("tpu"));
        assertThrows(IllegalArgumentException.class, () -> MapLocation.keep().target("mps"));
    }

    @Test
    void libtorchTensorsGoBackThroughTheWriterWithTheirViews() throws Exception {
        Path out = tmp.resolve("back.pt");
        List<String> names = List.of("base", "slice_step", "transpose", "narrow", "element", "expand", "channels_last");
        try (Checkpoint ckpt = Checkpoint.open(Repo.fixture("2.14.1", "views.pt"));
             NativeTensorMap sd = NativeTensors.loadAll(ckpt)) {
            Map<String, org.bytedeco.pytorch.Tensor> pick = new LinkedHashMap<>();
            names.forEach(n -> pick.put(n, sd.tensor(n)));
            Map<String, NewTensor> back = NativeTensors.toNewTensors(pick, null);
            CheckpointWriter.save(new PyDict(PyDict.DICT, back, Map.of()), out);
            try (Checkpoint again = Checkpoint.open(out)) {
                for (String n : names) {
                    TensorInfo a = ckpt.tensor(n).info();
                    TensorInfo b = again.tensor(n).info();
                    assertEquals(a.shape(), b.shape(), n);
                    assertEquals(a.stride(), b.stride(), n);
                    assertEquals(a.storageOffset(), b.storageOffset(), n);
                    assertArrayEquals(ckpt.tensor(n).toByteArray(), again.tensor(n).toByteArray(), n);
                }
                assertEquals(again.tensor("base").info().storage().key(), again.tensor("transpose").info().storage().key(),
                        "views of one libtorch storage share one saved storage");
            }
        }
    }

    @Test
    void conjAndNegBitsSurviveTheRoundTrip() throws Exception {
        Path out = tmp.resolve("bits.pt");
        try (Checkpoint ckpt = Checkpoint.open(Repo.fixture("2.14.1", "conj_neg.pt"));
             NativeTensorMap sd = NativeTensors.loadAll(ckpt)) {
            Map<String, org.bytedeco.pytorch.Tensor> all = new LinkedHashMap<>();
            sd.names().forEach(n -> all.put(n, sd.tensor(n)));
            CheckpointWriter.save(new PyDict(PyDict.DICT, NativeTensors.toNewTensors(all, null), Map.of()), out);
            try (Checkpoint again = Checkpoint.open(out)) {
                for (String n : sd.names()) {
                    TensorInfo a = ckpt.tensor(n).info();
                    TensorInfo b = again.tensor(n).info();
                    assertEquals(a.conj(), b.conj(), n);
                    assertEquals(a.neg(), b.neg(), n);
                    assertArrayEquals(ckpt.tensor(n).toByteArray(), again.tensor(n).toByteArray(), n);
                }
            }
        }
    }

    @Test
    void aTensorCanBeSavedWithAnotherLocationTag() throws Exception {
        Path out = tmp.resolve("tagged.pt");
        try (org.bytedeco.pytorch.Tensor t = torch.ones(2, 3)) {
            CheckpointWriter.save(new PyDict(PyDict.DICT, Map.of("cpu", NativeTensors.toNewTensor(t),
                    "tagged", NativeTensors.toNewTensor(t, "cuda:1")), Map.of()), out);
        }
        try (Checkpoint again = Checkpoint.open(out)) {
            assertEquals("cpu", again.tensor("cpu").info().storage().location());
            assertEquals("cuda:1", again.tensor("tagged").info().storage().location());
        }
    }
}
