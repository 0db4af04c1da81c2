package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.testing.ChildProcess;
import io.torchbridge.testing.Repo;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every program of {@code examples/} as a user runs it: its Python twin, under torch 2.14 with
 * torchvision 0.27, builds the model with a fixed seed, saves the weights at full size and its
 * own eval outputs into a temporary folder; then the Java program (a child JVM, since it exits
 * with its verdict) builds the same architecture from libtorch modules, loads the weights and
 * prints {@code max|java - python|} for each output. The expected values are torch's; the
 * numbers printed by the child are checked here again against the 1e-4 relative bound.
 */
class ExamplesTest {
    /**
     * The twin's weight files each Java program loads, in one run, each into a fresh model:
     * torch.save's file, safetensors.torch.save_model's, and huggingface_hub's safetensors shards
     * with their index (the same weights; the tied LSTM weight is stored under one name there).
     */
    static final List<String> WEIGHTS = List.of(".pt", ".safetensors", "-shards");

    private static final Pattern RELATIVE = Pattern.compile("relative = ([0-9.eE+-]+)");

    /** Each example: its folder, its Java program, and how many outputs it compares per weight file. */
    @ParameterizedTest(name = "{0}")
    @CsvSource({
        "resnet,      resnet.ResNetExample,           2",
        "transformer, transformer.TransformerExample, 2",
        "lstm,        lstm.LstmExample,               3",
    })
    void theJavaProgramMatchesItsPythonTwin(String name, String mainClass, int comparisons,
            @TempDir(cleanup = CleanupMode.ALWAYS) Path tmp) throws Exception {
        TorchMatrix.Torch torch = TorchMatrix.require("2.14.1");
        Path twin = Repo.root().resolve("examples").resolve(name).resolve(name + ".py");
        System.out.print(torch.run(900, twin.toString(), tmp.toString()));
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-cp", System.getProperty("java.class.path"), mainClass,
                tmp.toString()));
        cmd.addAll(WEIGHTS);
        ChildProcess.Result r = ChildProcess.run(cmd, null, Duration.ofSeconds(900));
        System.out.print(r.output());
        assertEquals(0, r.exitCode(), name + " failed:\n" + r.output());
        for (String weights : WEIGHTS) {
            assertTrue(r.output().contains("loaded " + (name.equals("resnet") ? "resnet50" : name) + weights + ":"),
                    "loaded from " + weights + ":\n" + r.output());
        }
        List<Double> rel = new ArrayList<>();
        Matcher m = RELATIVE.matcher(r.output());
        while (m.find()) {
            rel.add(Double.parseDouble(m.group(1)));
        }
        assertEquals(comparisons * WEIGHTS.size(), rel.size(), "outputs compared, in:\n" + r.output());
        for (double d : rel) {
            assertTrue(d <= 1e-4, name + ": relative difference " + d + " over 1e-4:\n" + r.output());
        }
        assertTrue(r.output().strip().endsWith("PASS"), r.output());
    }
}
