package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.cli.demo.DemoModels;
import io.torchbridge.libtorch.LoadOptions;
import io.torchbridge.libtorch.MapLocation;
import io.torchbridge.libtorch.NativeTensor;
import io.torchbridge.libtorch.NativeTensors;
import io.torchbridge.libtorch.OptimizerStates;
import io.torchbridge.libtorch.StateDictExporter;
import io.torchbridge.libtorch.StateDictLoader;
import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.PyDict;
import io.torchbridge.testing.Repo;
import io.torchbridge.writer.CheckpointWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.bytedeco.pytorch.Adam;
import org.bytedeco.pytorch.AdamOptions;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Optimizer;
import org.bytedeco.pytorch.SGD;
import org.bytedeco.pytorch.SGDOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * libtorch's AdamW (with amsgrad), SGD (Nesterov momentum, weight decay) and Adam (weight decay)
 * exported in PyTorch's layout: real torch 2.14 loads each into its own optimizer of the same
 * class and hyperparameters, takes the next step, and lands where Java's next step lands.
 */
class NativeOptimizerTest {
    @TempDir
    Path tmp;

    record Case(String name, String pythonClass, Map<String, Object> kwargs, Function<Module, Optimizer> make) {
    }

    static final LoadOptions CPU = LoadOptions.defaults().withMapLocation(MapLocation.to("cpu")).withWritable(true);

    @Test
    void pythonTakesTheSameNextStepFromJavasOptimizerState() throws Exception {
        TorchMatrix.Torch torch = TorchMatrix.require("2.14.1");
        Path dir = Files.createDirectories(tmp.resolve("demo"));
        torch.run(300, Repo.fixtures().resolve("native_demo.py").toString(), "train", dir.toString());

        List<Case> cases = List.of(
                new Case("adamw_amsgrad", "AdamW", Map.of("lr", 3e-3, "weight_decay", 0.02, "amsgrad", true), m -> {
                    AdamWOptions o = new AdamWOptions(3e-3);
                    o.weight_decay().put(0.02);
                    o.amsgrad().put(true);
                    return new AdamW(m.parameters(), o);
                }),
                new Case("sgd_nesterov", "SGD", Map.of("lr", 0.02, "momentum", 0.8, "nesterov", true,
                        "weight_decay", 1e-3), m -> {
                    SGDOptions o = new SGDOptions(0.02);
                    o.momentum().put(0.8);
                    o.nesterov().put(true);
                    o.weight_decay().put(1e-3);
                    return new SGD(m.parameters(), o);
                }),
                new Case("adam_decay", "Adam", Map.of("lr", 2e-3, "betas", List.of(0.8, 0.99), "weight_decay", 1e-3),
                        m -> {
                            AdamOptions o = new AdamOptions(2e-3);
                            // std::tuple<double, double> as libstdc++ lays it out: beta2 first, then beta1.
                            o.betas().put(0, 0.99).put(1, 0.8);
                            o.weight_decay().put(1e-3);
                            return new Adam(m.parameters(), o);
                        }));
        Map<String, Map<String, Tensor>> javaAfter = new LinkedHashMap<>();
        Map<String, Double> javaLoss = new LinkedHashMap<>();
        int steps = 2;
        try (Checkpoint start = Checkpoint.open(dir.resolve("mlp_state_dict.pt"));
             Checkpoint data = Checkpoint.open(dir.resolve("mlp_data.pt"))) {
            for (Case c : cases) {
                DemoModels.MLP mlp = new DemoModels.MLP();
                StateDictLoader.strict().load(mlp, start);
                Optimizer opt = c.make().apply(mlp);
                for (int i = 0; i < steps; i++) {
                    step(mlp, opt, data, i);
                }
                Map<String, Object> ckpt = new LinkedHashMap<>();
                ckpt.put("arch", "mlp");
                ckpt.put("optimizer_class", c.pythonClass());
                Map<Object, Object> kwargs = new LinkedHashMap<>();
                c.kwargs().forEach((k, v) -> kwargs.put(k, v instanceof List<?> l ? io.torchbridge.reader.PyTuple.of(l.toArray()) : v));
                ckpt.put("optimizer_kwargs", kwargs);
                ckpt.put("model", StateDictExporter.stateDict(mlp));
                ckpt.put("optimizer", OptimizerStates.export(opt));
                ckpt.put("steps", (long) steps);
                CheckpointWriter.save(ckpt, dir.resolve("java_" + c.name() + "_checkpoint.pt"));
                javaLoss.put(c.name(), step(mlp, opt, data, steps));
                Map<String, Tensor> after = new LinkedHashMap<>();
                var p = mlp.named_parameters(true);
                for (long i = 0; i < p.size(); i++) {
                    after.put(p.get(i).key().getString(), p.get(i).value().detach().clone());
                }
                javaAfter.put(c.name(), after);
            }
        }
        String[] args = new String[cases.size() + 3];
        args[0] = Repo.fixtures().resolve("native_demo.py").toString();
        args[1] = "step";
        args[2] = dir.toString();
        for (int i = 0; i < cases.size(); i++) {
            args[i + 3] = cases.get(i).name();
        }
        torch.run(300, args);
        for (Case c : cases) {
            try (Checkpoint py = Checkpoint.open(dir.resolve("python_" + c.name() + "_next.pt"))) {
                double max = 0;
                for (var e : javaAfter.get(c.name()).entrySet()) {
                    try (NativeTensor t = NativeTensors.load(py.tensor("model." + e.getKey()), CPU);
                         Tensor d = t.tensor().sub(e.getValue()); Tensor a = d.abs(); Tensor m = a.max()) {
                        max = Math.max(max, m.item_double());
                    }
                }
                System.out.printf("%s: Python's next step vs Java's, max |diff| %.2e; loss %.7f vs %.7f%n", c.name(), max,
                        ((Number) py.value("loss")).doubleValue(), javaLoss.get(c.name()));
                assertTrue(max <= 1e-5, c.name() + ": " + max);
                assertEquals(javaLoss.get(c.name()), ((Number) py.value("loss")).doubleValue(), 1e-5, c.name());
                PyDict group = (PyDict) ((List<?>) py.value("optimizer.param_groups")).get(0);
                c.kwargs().forEach((k, v) -> {
                    Object got = group.get(k);
                    Object want = v instanceof List<?> l ? io.torchbridge.reader.PyTuple.of(l.toArray()) : v;
                    assertEquals(want, got, c.name() + " " + k + " kept through Java");
                });
            }
        }
    }

    private static double step(DemoModels.MLP model, Optimizer opt, Checkpoint data, int i) {
        try (NativeTensor x = NativeTensors.load(data.tensor("train_x." + i), CPU);
             NativeTensor y = NativeTensors.load(data.tensor("train_y." + i), CPU)) {
            opt.zero_grad();
            try (Tensor out = model.forward(x.tensor()); Tensor loss = torch.cross_entropy_loss(out, y.tensor())) {
                loss.backward();
                opt.step();
                return loss.item_double();
            }
        }
    }
}
