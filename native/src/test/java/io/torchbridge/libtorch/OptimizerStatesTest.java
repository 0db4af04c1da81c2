package io.torchbridge.libtorch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.PyDict;
import io.torchbridge.reader.PyTuple;
import io.torchbridge.reader.Tensor;
import io.torchbridge.testing.Repo;
import io.torchbridge.writer.CheckpointWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.bytedeco.pytorch.Adam;
import org.bytedeco.pytorch.AdamOptions;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Optimizer;
import org.bytedeco.pytorch.RMSprop;
import org.bytedeco.pytorch.RMSpropOptions;
import org.bytedeco.pytorch.SGD;
import org.bytedeco.pytorch.SGDOptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * PyTorch optimizer state dicts into libtorch's optimizers and back, on the training checkpoints
 * real PyTorch 1.13, 2.6 and 2.14 wrote: restoring and exporting again gives the same state.
 */
class OptimizerStatesTest {
    @TempDir
    Path tmp;

    static Optimizer fresh(String fixture, Module m) {
        return switch (fixture) {
            case "training_adam" -> new Adam(m.parameters(), new AdamOptions(0.5));
            case "training_adamw" -> new AdamW(m.parameters(), new AdamWOptions(0.5));
            default -> new SGD(m.parameters(), new SGDOptions(0.5));
        };
    }

    @TestFactory
    Stream<DynamicTest> pytorchStateGoesIntoLibtorchAndComesBackTheSame() {
        return Repo.TORCH_VERSIONS.stream().flatMap(v -> Stream.of("training_adam", "training_adamw", "training_sgd")
                .map(f -> DynamicTest.dynamicTest("torch " + v + " " + f, () -> roundTrip(v, f))));
    }

    private void roundTrip(String version, String fixture) throws Exception {
        try (Checkpoint ckpt = Checkpoint.open(Repo.fixture(version, fixture + ".pt"))) {
            TestModels.Small small = new TestModels.Small();
            StateDictLoader.builder().entry("model").build().load(small, ckpt);
            Optimizer opt = fresh(fixture, small);
            OptimizerStates.restore(opt, ckpt.value("optimizer"));
            Path out = tmp.resolve(fixture + ".pt");
            CheckpointWriter.save(Map.of("optimizer", OptimizerStates.export(opt)), out);
            try (Checkpoint back = Checkpoint.open(out)) {
                PyDict want = (PyDict) ckpt.value("optimizer");
                PyDict got = (PyDict) back.value("optimizer");
                PyDict wantState = (PyDict) want.get("state");
                PyDict gotState = (PyDict) got.get("state");
                assertEquals(wantState.items().keySet(), gotState.items().keySet(), "parameters with state");
                for (Object i : wantState.items().keySet()) {
                    PyDict w = (PyDict) wantState.get(i);
                    PyDict g = (PyDict) gotState.get(i);
                    for (Object k : w.items().keySet()) {
                        Object wv = w.get(k);
                        Object gv = g.get(k);
                        if (wv instanceof Tensor wt) {
                            Tensor gt = (Tensor) gv;
                            if (k.equals("step")) {
                                assertEquals(wt.toDoubleArray()[0], gt.toDoubleArray()[0], "step");
                                assertEquals(0, gt.info().shape().rank(), "a 0-d step tensor, as PyTorch keeps it");
                            } else {
                                assertArrayEquals(wt.toByteArray(), gt.toByteArray(), fixture + " state " + i + " " + k);
                            }
                        }
                    }
                }
                Map<Object, Object> wg = ((PyDict) ((List<?>) want.get("param_groups")).get(0)).items();
                Map<Object, Object> gg = ((PyDict) ((List<?>) got.get("param_groups")).get(0)).items();
                for (String k : List.of("lr", "eps", "weight_decay", "momentum", "dampening")) {
                    if (wg.containsKey(k)) {
                        assertEquals(((Number) wg.get(k)).doubleValue(), ((Number) gg.get(k)).doubleValue(), k);
                    }
                }
                if (wg.containsKey("betas")) {
                    assertEquals(wg.get("betas"), gg.get("betas"));
                    assertTrue(gg.get("betas") instanceof PyTuple);
                }
                assertEquals(wg.get("params"), gg.get("params"));
                assertEquals(fixture.equals("training_adamw"), Boolean.TRUE.equals(gg.get("decoupled_weight_decay")));
            }
        }
    }

    @Test
    void anOptimizerThatHasNotSteppedHasNoState() {
        TestModels.Small small = new TestModels.Small();
        PyDict sd = OptimizerStates.export(new Adam(small.parameters(), new AdamOptions(1e-3)));
        assertEquals(0, ((PyDict) sd.get("state")).size());
        Map<Object, Object> g = ((PyDict) ((List<?>) sd.get("param_groups")).get(0)).items();
        assertEquals(List.of("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize", "foreach", "capturable",
                "differentiable", "fused", "decoupled_weight_decay", "params"), List.copyOf(g.keySet()),
                "torch 2.14's keys, in its order");
        assertEquals(List.of(0L, 1L, 2L, 3L), g.get("params"));
        assertEquals(0L, g.get("weight_decay"), "Python's default is the int 0");
    }

    @Test
    void whatDoesNotFitIsRefused() throws Exception {
        TestModels.Small small = new TestModels.Small();
        assertThrows(IllegalArgumentException.class,
                () -> OptimizerStates.export(new RMSprop(small.parameters(), new RMSpropOptions(0.1))));
        try (Checkpoint ckpt = Checkpoint.open(Repo.fixture("2.14.1", "training_adam.pt"))) {
            Optimizer fewer = new Adam(new TestModels.Small().fc1.parameters(), new AdamOptions(0.1));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> OptimizerStates.restore(fewer, ckpt.value("optimizer")));
            assertTrue(e.getMessage().contains("doesn't match the size"), e.getMessage());
            Optimizer adamw = new AdamW(new TestModels.Small().parameters(), new AdamWOptions(0.1));
            e = assertThrows(IllegalArgumentException.class, () -> OptimizerStates.restore(adamw, ckpt.value("optimizer")));
            assertTrue(e.getMessage().contains("decoupled_weight_decay"), e.getMessage());
        }
    }
}
