package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.PyObject;
import io.torchbridge.reader.ReadOptions;
import io.torchbridge.testing.Repo;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code torch.save(model)} of a {@code __main__} class, and a checkpoint with a numpy scalar:
 * refused by default (as weights_only refuses them), read inertly on request with the tensors
 * under the names {@code model.state_dict()} gives them, checked against PyTorch's own manifest of
 * that state_dict. Nothing in the pickle is run: the module's class does not even exist here.
 */
class InertModeTest {
    @TempDir
    Path tmp;

    private static final String PYTHON = String.join("\n",
            "import sys, torch, torch.nn as nn",
            "sys.path.insert(0, sys.argv[3])",
            "import tbmanifest",
            "class Net(nn.Module):",
            "    def __init__(self):",
            "        super().__init__()",
            "        self.fc1 = nn.Linear(4, 3)",
            "        self.bn = nn.BatchNorm1d(3)",
            "        self.head = nn.Sequential(nn.ReLU(), nn.Linear(3, 2))",
            "        self.note = 'kept as an attribute'",
            "torch.manual_seed(0)",
            "m = Net()",
            "m.bn.running_mean.add_(0.25)",
            "torch.save(m, sys.argv[1])",
            "torch.save(m.state_dict(), sys.argv[2])",
            "tbmanifest.write_manifest(sys.argv[2])");

    @Test
    void pickledModuleIsRefusedByDefaultAndReadInertlyByAttributePath() throws Exception {
        TorchMatrix.Torch torch = TorchMatrix.require("2.14.1");
        Path model = tmp.resolve("model.pt");
        Path sd = tmp.resolve("model_sd.pt");
        torch.run(120, "-c", PYTHON, model.toString(), sd.toString(), Repo.fixtures().toString());
        Path manifestFile = tmp.resolve("model_sd.manifest.json");

        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(model).close());
        assertEquals(CheckpointException.Kind.DISALLOWED_GLOBAL, e.kind());
        assertTrue(e.getMessage().contains("'__main__.Net'"), e.getMessage());
        assertTrue(e.getMessage().contains("--inert"), e.getMessage());

        Manifest expected = Manifest.read(manifestFile);
        try (Checkpoint c = Checkpoint.open(model, ReadOptions.builder().inert(true).build())) {
            PyObject root = assertInstanceOf(PyObject.class, c.root());
            assertEquals("__main__.Net", root.callable().fullName());
            assertEquals("kept as an attribute", c.value("note"));
            int checked = 0;
            for (var t : expected.tensors()) {
                String name = t.get("name").asText();
                var tensor = c.tensor(name);
                assertEquals(t.get("sha256").asText(), ManifestCheck.sha256(tensor), name);
                assertEquals(t.get("dtype").asText(), tensor.dtype().pythonName(), name);
                checked++;
            }
            assertEquals(List.of("fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "bn.running_mean",
                    "bn.running_var", "bn.num_batches_tracked", "head.1.weight", "head.1.bias"),
                    c.names().stream().filter(n -> !n.isEmpty()).toList());
            assertEquals(9, checked);
        }
    }
}
