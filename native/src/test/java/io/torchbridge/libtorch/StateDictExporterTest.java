package io.torchbridge.libtorch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.PyDict;
import io.torchbridge.reader.TensorInfo;
import io.torchbridge.testing.Repo;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A Java module's state_dict() as torch.save writes it. */
class StateDictExporterTest {
    @TempDir
    Path tmp;

    @Test
    void theExportHasPythonsKeysOrderValuesAndMetadata() throws Exception {
        TestModels.Net net = new TestModels.Net();
        Path out = tmp.resolve("net.pt");
        try (Checkpoint py = Checkpoint.open(Repo.fixture("2.14.1", "module_net.pt"))) {
            StateDictLoader.strict().load(net, py);
            StateDictExporter.save(net, out);
            try (Checkpoint ours = Checkpoint.open(out)) {
                assertEquals(py.names(), ours.names());
                PyDict root = (PyDict) ours.root();
                assertEquals(PyDict.ORDERED_DICT, root.pythonClass());
                assertEquals(((PyDict) py.root()).metadata(), root.metadata(), "_metadata, BatchNorm at version 2");
                for (String n : py.names()) {
                    TensorInfo a = py.tensor(n).info();
                    TensorInfo b = ours.tensor(n).info();
                    assertEquals(a.dtype(), b.dtype(), n);
                    assertEquals(a.shape(), b.shape(), n);
                    assertEquals(a.stride(), b.stride(), n);
                    assertFalse(b.requiresGrad(), "state_dict() detaches");
                    assertFalse(b.parameter());
                    assertEquals("cpu", b.storage().location());
                    assertArrayEquals(py.tensor(n).toByteArray(), ours.tensor(n).toByteArray(), n);
                }
            }
        }
    }
}
