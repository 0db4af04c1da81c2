package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.torchbridge.cli.demo.DemoModels;
import io.torchbridge.libtorch.LoadReport;
import io.torchbridge.libtorch.StateDictException;
import io.torchbridge.libtorch.StateDictExporter;
import io.torchbridge.libtorch.StateDictLoader;
import io.torchbridge.reader.Checkpoint;
import io.torchbridge.testing.Repo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.bytedeco.pytorch.Module;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * load_state_dict in Java says what real torch 2.14 says, and a Java module's state dict is the
 * very file torch.save writes for the same weights.
 */
class NativeStateDictTest {
    @TempDir
    static Path tmp;

    static Path cases;
    static Path demo;

    @BeforeAll
    static void pythonWritesTheCases() throws Exception {
        TorchMatrix.Torch torch = TorchMatrix.require("2.14.1");
        cases = Files.createDirectories(tmp.resolve("cases"));
        torch.run(300, Repo.fixtures().resolve("native_state_dict_cases.py").toString(), cases.toString());
        demo = Files.createDirectories(tmp.resolve("demo"));
        torch.run(300, Repo.fixtures().resolve("native_demo.py").toString(), "train", demo.toString());
    }

    static Module model(String pythonClass) {
        Supplier<DemoModels.Net> f = pythonClass.equals("MLP") ? DemoModels.MLP::new : DemoModels.CNN::new;
        return f.get().module();
    }

    @Test
    void strictAndNonStrictOutcomesAreTorchsWordForWord() throws Exception {
        JsonNode all = new ObjectMapper().readTree(cases.resolve("cases.json").toFile());
        List<String> seen = new ArrayList<>();
        for (var it = all.fields(); it.hasNext(); ) {
            var e = it.next();
            String name = e.getKey();
            JsonNode want = e.getValue();
            seen.add(name);
            try (Checkpoint ckpt = Checkpoint.open(cases.resolve(name + ".pt"))) {
                String strict = want.get("strict").asText();
                if (strict.equals("ok")) {
                    LoadReport r = StateDictLoader.strict().load(model(want.get("model").asText()), ckpt);
                    assertTrue(r.missingKeys().isEmpty() && r.unexpectedKeys().isEmpty(), name + ": " + r);
                } else {
                    StateDictException ex = assertThrows(StateDictException.class,
                            () -> StateDictLoader.strict().load(model(want.get("model").asText()), ckpt), name);
                    assertEquals(strict, ex.getMessage(), name + " (strict)");
                }
                JsonNode nonStrict = want.get("nonstrict");
                StateDictLoader lenient = StateDictLoader.builder().strict(false).build();
                if (nonStrict.isTextual()) {
                    StateDictException ex = assertThrows(StateDictException.class,
                            () -> lenient.load(model(want.get("model").asText()), ckpt), name);
                    assertEquals(nonStrict.asText(), ex.getMessage(), name + " (non-strict)");
                } else {
                    LoadReport r = lenient.load(model(want.get("model").asText()), ckpt);
                    assertEquals(strings(nonStrict.get("missing")), r.missingKeys(), name + " missing");
                    assertEquals(strings(nonStrict.get("unexpected")), r.unexpectedKeys(), name + " unexpected");
                }
            }
        }
        assertEquals(List.of("missing_unexpected", "new_head", "not_a_tensor", "legacy_batchnorm", "dataparallel",
                "float64"), seen);
    }

    @Test
    void theRemediesLoadWhatTorchRefuses() throws Exception {
        try (Checkpoint dp = Checkpoint.open(cases.resolve("dataparallel.pt"))) {
            assertTrue(StateDictLoader.builder().stripPrefix("module.").build().load(model("MLP"), dp).allMatched());
        }
        try (Checkpoint head = Checkpoint.open(cases.resolve("new_head.pt"))) {
            LoadReport r = StateDictLoader.builder().strict(false).skipMismatched(true).build().load(model("MLP"), head);
            assertEquals(List.of("fc1.bias"), r.missingKeys());
            assertEquals(List.of("fc3.weight", "fc3.bias"), r.mismatches().stream().map(LoadReport.Mismatch::key).toList());
            assertEquals(List.of("fc1.weight", "fc2.weight", "fc2.bias"), r.loadedKeys());
        }
        try (Checkpoint f64 = Checkpoint.open(cases.resolve("float64.pt"))) {
            LoadReport r = StateDictLoader.strict().load(model("MLP"), f64);
            assertEquals(6, r.castKeys().size(), "float64 cast into float32, as copy_ does");
        }
        try (Checkpoint ckpt = Checkpoint.open(demo.resolve("cnn_checkpoint.pt"))) {
            assertTrue(StateDictLoader.builder().entry("model_state_dict").build().load(model("CNN"), ckpt).allMatched());
        }
    }

    /** Loaded from torch's file and saved again from the libtorch module: torch's bytes. */
    @Test
    void aJavaModulesStateDictIsTheFileTorchSaveWrites() throws Exception {
        for (String name : List.of("mlp", "cnn")) {
            Path theirs = demo.resolve(name + "_state_dict.pt");
            Module m = model(name.toUpperCase(java.util.Locale.ROOT));
            try (Checkpoint ckpt = Checkpoint.open(theirs)) {
                StateDictLoader.strict().load(m, ckpt);
            }
            Path ours = Files.createDirectories(tmp.resolve("java-" + name)).resolve(name + "_state_dict.pt");
            StateDictExporter.save(m, ours);
            byte[] want = Files.readAllBytes(theirs);
            byte[] got = Files.readAllBytes(ours);
            ConvertByteIdentityTest.maskSerializationId(want);
            ConvertByteIdentityTest.maskSerializationId(got);
            assertEquals(want.length, got.length, name + " length");
            for (int i = 0; i < want.length; i++) {
                if (want[i] != got[i]) {
                    throw new AssertionError(name + ": first difference at byte " + i);
                }
            }
        }
    }

    private static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }
}
