package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.Format;
import io.torchbridge.reader.PyDict;
import io.torchbridge.reader.PyObject;
import io.torchbridge.reader.Tensor;
import io.torchbridge.testing.Repo;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Every TorchScript archive real torch 1.13, 2.6 and 2.14 wrote (fixtures/torchscript.py: scripted
 * and traced, nested submodules, conv + batchnorm buffers, LSTM, embedding, float64 and float16,
 * non-tensor attributes, a shared weight) lists exactly the tensors of its
 * {@code torch.jit.load(f).state_dict()}: names, order, dtypes, shapes, strides, sha256 and leading
 * values, as the same torch computed them into the manifest.
 */
class TorchScriptFixtureTest {

    static Path folder(String version) {
        return Repo.fixtures().resolve("torchscript-" + version);
    }

    @TestFactory
    Stream<DynamicNode> everyTorchScriptFixtureListsItsStateDict() {
        return Repo.TORCH_VERSIONS.stream().map(v -> {
            List<Path> manifests = FixtureTest.manifests(folder(v));
            assertTrue(manifests.size() >= 10, "TorchScript fixtures in " + folder(v) + ": " + manifests.size());
            return DynamicContainer.dynamicContainer("torch " + v, manifests.stream().map(mf ->
                    DynamicTest.dynamicTest(mf.getFileName().toString().replace(".manifest.json", ""), mf.toUri(), () -> {
                        Manifest m = Manifest.read(mf);
                        assertEquals(v, m.torch(), mf + " was written by torch " + m.torch());
                        assertFalse(m.tensors().isEmpty(), mf + " lists no tensors");
                        ManifestCheck.check(m);
                        checkStateDict(m);
                    })));
        });
    }

    /**
     * The 1.0-1.2 layout (model.json), which no torch installed here reads or writes (all three
     * refuse it: "Legacy model format is not supported on mobile."): archives built by
     * fixtures/torchscript_v1.py to the rules of torch's reader for it, import_legacy.cpp, holding
     * tensors torch 1.13 made; the manifest follows that reader's rules.
     */
    @TestFactory
    Stream<DynamicNode> everyModelJsonArchiveListsItsStateDict() {
        List<Path> manifests = FixtureTest.manifests(Repo.fixtures().resolve("torchscript-v1"));
        assertTrue(manifests.size() >= 2, "model.json fixtures: " + manifests.size());
        return manifests.stream().map(mf -> DynamicTest.dynamicTest(mf.getFileName().toString(), mf.toUri(), () -> {
            Manifest m = Manifest.read(mf);
            ManifestCheck.check(m);
            checkStateDict(m);
        }));
    }

    /**
     * What the manifest holds beyond ManifestCheck's fields: which tensors share a storage
     * (torch: same data_ptr once loaded) and the state_dict's {@code _metadata}.
     */
    private static void checkStateDict(Manifest m) throws Exception {
        try (Checkpoint c = Checkpoint.open(m.file())) {
            List<Tensor> tensors = List.copyOf(c.tensors().values());
            for (int i = 0; i < tensors.size(); i++) {
                int group = m.tensors().get(i).get("storage_group").asInt();
                assertEquals(tensors.get(group).info().storage().key(), tensors.get(i).info().storage().key(),
                        m.file().getFileName() + ": " + m.tensors().get(i).get("name").asText() + " storage");
                if (group == i) {
                    for (int j = 0; j < i; j++) {
                        assertFalse(tensors.get(j).info().storage().key().equals(tensors.get(i).info().storage().key()),
                                m.file().getFileName() + ": " + m.tensors().get(i).get("name").asText() + " has its own storage");
                    }
                }
            }
            PyDict sd = c.stateDict().orElseThrow();
            assertEquals(PyDict.ORDERED_DICT, sd.pythonClass());
            assertEquals(c.names(), List.copyOf(sd.items().keySet()));
            PyDict meta = sd.metadata().orElseThrow();
            List<String> expectedPaths = new java.util.ArrayList<>();
            m.json().get("metadata").fieldNames().forEachRemaining(expectedPaths::add);
            assertEquals(expectedPaths, List.copyOf(meta.items().keySet()), m.file().getFileName() + " _metadata");
            for (String path : expectedPaths) {
                assertEquals(m.json().get("metadata").get(path).get("version").asLong(),
                        ((PyDict) meta.items().get(path)).items().get("version"), path);
            }
        }
    }

    /** The object tree stays reachable: attributes that are not in the state_dict, and sharing. */
    @Test
    void theModuleObjectKeepsEveryAttribute() throws Exception {
        for (String v : Repo.TORCH_VERSIONS) {
            try (Checkpoint c = Checkpoint.open(folder(v).resolve("scripted_attributes.pt"))) {
                assertEquals(Format.TORCHSCRIPT, c.format());
                PyObject root = assertInstanceOf(PyObject.class, c.root());
                assertEquals("__torch__.Attrs", root.callable().fullName());
                // values fixtures/torchscript.py gave the module (class Attrs)
                assertEquals(List.of(3L, 1L, 4L), c.value("sizes"));
                assertEquals(1L, ((PyDict) c.value("table")).items().get("one"));
                assertEquals("attrs", c.value("name"));
                assertEquals(Boolean.TRUE, c.value("flag"));
                assertEquals(null, c.value("maybe"));
                // a plain tensor attribute is no parameter or buffer, so not in the state_dict
                Tensor plain = assertInstanceOf(Tensor.class, c.value("plain"));
                assertEquals(List.of(0.5f, 0.5f), List.of(plain.toFloatArray()[0], plain.toFloatArray()[1]));
                assertFalse(c.names().contains("plain"), "state_dict names " + c.names());
            }
            try (Checkpoint c = Checkpoint.open(folder(v).resolve("scripted_class_attribute.pt"))) {
                // an instance of a TorchScript class (no module): its tensor is reachable, not in the state_dict
                Tensor t = assertInstanceOf(Tensor.class, c.value("box.t"));
                assertEquals(List.of(4.0f, 4.0f), List.of(t.toFloatArray()[0], t.toFloatArray()[1]));
                assertEquals(3L, c.value("box.n"));
                assertEquals(List.of("lin.weight", "lin.bias"), c.names());
            }
            try (Checkpoint c = Checkpoint.open(folder(v).resolve("scripted_tied.pt"))) {
                assertSame(c.tensor("emb.weight"), c.tensor("dec.weight"), "a shared weight is one tensor under two names");
            }
        }
    }
}
