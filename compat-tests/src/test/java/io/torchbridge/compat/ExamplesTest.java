package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.libtorch.RequiresCuda;
import io.torchbridge.testing.ChildProcess;
import io.torchbridge.testing.Repo;
import java.nio.file.Files;
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
 * numbers printed by the child are checked here again against the 1e-4 relative bound. On the
 * CPU each program runs a second time with {@code --zero-copy}: the weights become copy-on-write
 * views of the files (every entry, but the second value of a tied weight) with the same outputs.
 *
 * <p>The same again on {@code cuda:0} ({@code --device cuda:0}: model, weights and inputs on the
 * GPU, outputs back to the CPU against Python's CPU outputs, TF32 off) where libtorch sees a GPU;
 * elsewhere that variant is skipped, never passed ({@link RequiresCuda}). {@code native/cuda-check.sh}
 * runs it in its Maven mode.
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
        run(name, mainClass, comparisons, tmp, TorchMatrix.require("2.14.1"), "cpu");
    }

    /** The same with the Java program on cuda:0; Python's twin still runs on the CPU. */
    @ParameterizedTest(name = "{0} on cuda:0")
    @CsvSource({
        "resnet,      resnet.ResNetExample,           2",
        "transformer, transformer.TransformerExample, 2",
        "lstm,        lstm.LstmExample,               3",
    })
    @RequiresCuda
    void theJavaProgramMatchesItsPythonTwinOnCuda(String name, String mainClass, int comparisons,
            @TempDir(cleanup = CleanupMode.ALWAYS) Path tmp) throws Exception {
        run(name, mainClass, comparisons, tmp, twinPython(), "cuda:0");
    }

    /**
     * The twins need torch, torchvision, safetensors and huggingface_hub: the matrix's torch 2.14
     * where it is installed, else {@code $TORCHBRIDGE_PYTHON} (a GPU machine's own python; a twin
     * that cannot import what it needs fails the test). A CUDA run with neither fails rather than
     * skips ({@code -Dtorchbridge.requireCuda=true}: nothing passes there by being skipped).
     */
    private static TorchMatrix.Torch twinPython() {
        Path sandbox = TorchMatrix.cache().resolve("bin").resolve("python-torch-sid");
        String env = System.getenv("TORCHBRIDGE_PYTHON");
        if (!Files.isExecutable(sandbox)) {
            if (env != null && !env.isBlank()) {
                return new TorchMatrix.Torch("env", Path.of(env));
            }
            if (Boolean.getBoolean("torchbridge.requireCuda")) {
                throw new AssertionError("no python for the examples' twins: " + sandbox
                        + " missing and $TORCHBRIDGE_PYTHON unset (-Dtorchbridge.requireCuda=true)");
            }
        }
        return TorchMatrix.require("2.14.1");
    }

    private static void run(String name, String mainClass, int comparisons, Path tmp, TorchMatrix.Torch torch,
            String device) throws Exception {
        Path twin = Repo.root().resolve("examples").resolve(name).resolve(name + ".py");
        System.out.print(torch.run(900, twin.toString(), tmp.toString()));
        String output = runJava(name, mainClass, comparisons, tmp, device);
        for (Loaded l : loaded(output)) {
            assertEquals(0, l.views(), "copies unless --zero-copy: " + l);
        }
        if (device.equals("cpu")) {
            // Again with the weights as copy-on-write views of the files (zeroCopy): the same
            // outputs, and every entry a view but a tied weight's second value (copied into it).
            output = runJava(name, mainClass, comparisons, tmp, device, "--zero-copy");
            for (Loaded l : loaded(output)) {
                int tiedTwice = name.equals("lstm") && l.file().endsWith(".pt") ? 1 : 0;
                assertEquals(l.entries() - tiedTwice, l.views(), "views of the file: " + l);
            }
        }
    }

    /** One "loaded FILE: N entries (M as views of the file)" line of an example's output. */
    private record Loaded(String file, int entries, int views) {
    }

    private static final Pattern LOADED = Pattern.compile(
            "^loaded (\\S+): (\\d+) entries(?: \\((\\d+) as views of the file\\))? into", Pattern.MULTILINE);

    private static List<Loaded> loaded(String output) {
        List<Loaded> out = new ArrayList<>();
        Matcher m = LOADED.matcher(output);
        while (m.find()) {
            out.add(new Loaded(m.group(1), Integer.parseInt(m.group(2)), m.group(3) == null ? 0 : Integer.parseInt(m.group(3))));
        }
        return out;
    }

    /** Runs the example's Java program on every weight file; checks and returns its output. */
    private static String runJava(String name, String mainClass, int comparisons, Path tmp, String device,
            String... extra) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-cp", System.getProperty("java.class.path"), mainClass,
                tmp.toString()));
        cmd.addAll(WEIGHTS);
        cmd.addAll(List.of("--device", device));
        cmd.addAll(List.of(extra));
        ChildProcess.Result r = ChildProcess.run(cmd, null, Duration.ofSeconds(900));
        System.out.print(r.output());
        assertEquals(0, r.exitCode(), name + " failed:\n" + r.output());
        assertTrue(r.output().lines().anyMatch(l -> l.equals("device: " + device) || l.startsWith("device: " + device + " ")),
                "ran on " + device + ":\n" + r.output());
        for (String weights : WEIGHTS) {
            assertTrue(r.output().contains("loaded " + (name.equals("resnet") ? "resnet50" : name) + weights + ":"),
                    "loaded from " + weights + ":\n" + r.output());
        }
        assertEquals((name.equals("resnet") ? 2 : 1) * WEIGHTS.size(), loaded(r.output()).size(),
                "a loaded line per weight file and model:\n" + r.output());
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
        return r.output();
    }
}
