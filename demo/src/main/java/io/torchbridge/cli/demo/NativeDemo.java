package io.torchbridge.cli.demo;

import io.torchbridge.libtorch.LoadOptions;
import io.torchbridge.libtorch.LoadReport;
import io.torchbridge.libtorch.MapLocation;
import io.torchbridge.libtorch.NativeTensor;
import io.torchbridge.libtorch.NativeTensors;
import io.torchbridge.libtorch.OptimizerStates;
import io.torchbridge.libtorch.StateDictExporter;
import io.torchbridge.libtorch.StateDictLoader;
import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.PyDict;
import io.torchbridge.writer.CheckpointWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.bytedeco.pytorch.Adam;
import org.bytedeco.pytorch.AdamOptions;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Optimizer;
import org.bytedeco.pytorch.SGD;
import org.bytedeco.pytorch.SGDOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * The round trip between real PyTorch and Java, for the MLP (Adam) and the CNN with BatchNorm
 * (SGD with momentum) of {@code fixtures/native_demo.py}:
 *
 * <ol>
 *   <li>Python trains both and saves weights, training checkpoints, evaluation inputs with its
 *       outputs, and the next batches ({@code native_demo.py train}).</li>
 *   <li>Java builds the same architectures from libtorch modules, loads Python's weights strictly
 *       and runs inference: its outputs match Python's.</li>
 *   <li>Java resumes Python's training from its checkpoint (model and optimizer state) and takes
 *       the step Python took next: the weights match.</li>
 *   <li>Java trains on for a few steps, exports the model and the optimizer state in PyTorch's
 *       layout, and takes one more step.</li>
 *   <li>Python loads both strictly, takes the same step ({@code native_demo.py resume}): the
 *       weights, buffers and loss match Java's.</li>
 * </ol>
 *
 * Steps 1 and 5 need a Python with torch; without one (say on a GPU machine that has only Java)
 * the files of step 1 must already be in the work directory, and step 5 is replaced by Java
 * resuming its own export on the CPU.
 */
public final class NativeDemo {
    /** Runs {@code python script args...}, returning its output. */
    @FunctionalInterface
    public interface Python {
        String run(Path script, String... args) throws IOException, InterruptedException;
    }

    /**
     * @param workDir where the files go (absolute; a chroot'ed Python must see it)
     * @param device  {@code cpu} or {@code cuda:N}: where Java's models live
     * @param script  {@code native_demo.py}
     * @param python  runs the script, or {@code null} to use files already in {@code workDir}
     * @param log     progress lines, or {@code null}
     */
    public record Options(Path workDir, String device, Path script, Python python, PrintStream log) {
    }

    /**
     * One model's numbers.
     *
     * @param model            {@code mlp} or {@code cnn}
     * @param keys             state-dict entries loaded strictly from Python's file
     * @param inferenceDiff    max |Java - Python| over the evaluation outputs
     * @param resumePythonDiff max |Java - Python| over the state dict after Java resumed Python's
     *                         checkpoint and took the step Python took
     * @param javaSteps        steps Java trained before exporting
     * @param nextStepDiff     max |Python - Java| over the state dict after the step both took from
     *                         Java's export (Java on the CPU when no Python ran)
     * @param javaLoss         Java's loss at that step
     * @param otherLoss        Python's loss at that step (or Java's CPU replay's)
     * @param pythonChecks     what Python checked when it loaded Java's export (empty without Python)
     */
    public record ModelResult(String model, int keys, double inferenceDiff, double resumePythonDiff, int javaSteps,
                              double nextStepDiff, double javaLoss, double otherLoss,
                              Map<String, Object> pythonChecks) {
    }

    /** The largest difference the demo accepts between Java and Python, in float32. */
    public static final double TOLERANCE = 1e-5;

    public record Result(String device, boolean pythonRan, List<ModelResult> models) {
        /** Every difference within {@link #TOLERANCE} and every check Python made true. */
        public boolean passed() {
            for (ModelResult m : models) {
                if (!(m.inferenceDiff() <= TOLERANCE && m.resumePythonDiff() <= TOLERANCE
                        && m.nextStepDiff() <= TOLERANCE && Math.abs(m.javaLoss() - m.otherLoss()) <= TOLERANCE
                        && m.pythonChecks().values().stream().allMatch(Boolean.TRUE::equals))) {
                    return false;
                }
            }
            return true;
        }

        /** The numbers as a table, one column per model. */
        public String table() {
            String other = pythonRan ? "Python" : "Java on cpu";
            List<String[]> rows = new ArrayList<>();
            rows.add(row("", m -> m.model()));
            rows.add(row("Python's weights loaded strictly (entries)", m -> Integer.toString(m.keys())));
            rows.add(row("inference on " + device + ", max |Java - Python|", m -> sci(m.inferenceDiff())));
            rows.add(row("Java resumes Python's checkpoint: next step, max |diff|", m -> sci(m.resumePythonDiff())));
            rows.add(row("Java trains, exports model + optimizer after (steps)", m -> Integer.toString(m.javaSteps())));
            if (pythonRan) {
                rows.add(row("Python loads the export strictly, optimizer too",
                        m -> m.pythonChecks().values().stream().allMatch(Boolean.TRUE::equals) ? "yes" : "NO " + m.pythonChecks()));
            }
            rows.add(row(other + " resumes Java's export: next step, max |diff|", m -> sci(m.nextStepDiff())));
            rows.add(row("  loss at that step, Java", m -> String.format("%.7f", m.javaLoss())));
            rows.add(row("  loss at that step, " + other, m -> String.format("%.7f", m.otherLoss())));
            int w0 = rows.stream().mapToInt(r -> r[0].length()).max().orElse(0);
            StringBuilder b = new StringBuilder();
            for (String[] r : rows) {
                b.append(String.format("%-" + w0 + "s", r[0]));
                for (int i = 1; i < r.length; i++) {
                    b.append(String.format("  %12s", r[i]));
                }
                b.append('\n');
            }
            b.append(passed() ? "PASS" : "FAIL").append(": every difference <= ").append(sci(TOLERANCE))
                    .append(pythonRan ? " and Python's checks hold" : "").append('\n');
            return b.toString();
        }

        private String[] row(String label, java.util.function.Function<ModelResult, String> cell) {
            String[] r = new String[models.size() + 1];
            r[0] = label;
            for (int i = 0; i < models.size(); i++) {
                r[i + 1] = cell.apply(models.get(i));
            }
            return r;
        }

        private static String sci(double d) {
            return String.format("%.2e", d);
        }
    }

    private record Spec(String name, Supplier<DemoModels.Net> factory) {
    }

    private static final List<Spec> SPECS = List.of(new Spec("mlp", DemoModels.MLP::new),
            new Spec("cnn", DemoModels.CNN::new));

    private final Options o;
    private final LoadOptions toDevice;

    private NativeDemo(Options o) {
        this.o = o;
        if (o.device().startsWith("cuda")) {
            // Python's reference runs on the CPU in full float32; TF32 convolutions (libtorch's cuDNN
            // default) would differ from it by about 1e-3.
            torch.globalContext().setAllowTF32CuDNN(false);
            torch.globalContext().setAllowTF32CuBLAS(false);
        } else {
            // libtorch 2.10's oneDNN (mkldnn) kernels do not match torch on some CPUs: on an AMD
            // EPYC with AVX-512 the CNN's training step differed from Python's by 3.3e-3 with
            // oneDNN and by 6e-8 without (README.md, "Known libtorch issues").
            torch.globalContext().setUserEnabledMkldnn(false);
        }
        this.toDevice = LoadOptions.defaults().withMapLocation(MapLocation.to(o.device())).withWritable(true);
    }

    public static Result run(Options options) throws IOException, InterruptedException {
        return new NativeDemo(options).run();
    }

    private Result run() throws IOException, InterruptedException {
        Files.createDirectories(o.workDir());
        if (o.python() != null) {
            log("python: training an MLP (Adam) and a CNN with BatchNorm (SGD) on synthetic data ...");
            o.python().run(o.script(), "train", o.workDir().toString());
        }
        List<ModelResult> results = new ArrayList<>();
        Map<String, Java> trained = new LinkedHashMap<>();
        for (Spec s : SPECS) {
            trained.put(s.name(), javaSide(s));
        }
        Map<String, Map<String, Object>> checks = new LinkedHashMap<>();
        if (o.python() != null) {
            log("python: loading Java's exports strictly and taking one more step ...");
            o.python().run(o.script(), "resume", o.workDir().toString());
        }
        for (Spec s : SPECS) {
            Java j = trained.get(s.name());
            double diff;
            double other;
            Map<String, Object> pyChecks = Map.of();
            if (o.python() != null) {
                try (Checkpoint next = Checkpoint.open(o.workDir().resolve("python_" + s.name() + "_next.pt"))) {
                    diff = maxDiff(j.after(), (PyDict) next.value("model"));
                    other = ((Number) next.value("loss")).doubleValue();
                    pyChecks = new LinkedHashMap<>();
                    for (var c : ((PyDict) next.value("checks")).items().entrySet()) {
                        pyChecks.put((String) c.getKey(), c.getValue());
                    }
                }
            } else {
                double[] replay = cpuReplay(s, j);
                diff = replay[0];
                other = replay[1];
            }
            results.add(new ModelResult(s.name(), j.keys(), j.inferenceDiff(), j.resumeDiff(), j.steps(), diff,
                    j.nextLoss(), other, pyChecks));
        }
        return new Result(o.device(), o.python() != null, results);
    }

    /** What Java did for one model; {@code after} is its state dict after the step past the export. */
    private record Java(int keys, double inferenceDiff, double resumeDiff, int steps, double nextLoss,
                        Map<String, Tensor> after) {
    }

    @SuppressWarnings("try") // a scope guard (PointerScope, NoGradGuard), used for its lifetime alone
    private Java javaSide(Spec s) throws IOException {
        Path dir = o.workDir();
        DemoModels.Net net = s.factory().get();
        net.module().to(new Device(o.device()), false);

        // 2. Python's weights, strictly, then inference in eval mode.
        int keys;
        double inference;
        try (Checkpoint w = Checkpoint.open(dir.resolve(s.name() + "_state_dict.pt"));
             Checkpoint data = Checkpoint.open(dir.resolve(s.name() + "_data.pt"))) {
            LoadReport r = StateDictLoader.strict().load(net.module(), w);
            keys = r.loadedKeys().size();
            net.module().eval();
            try (NoGradGuard g = new NoGradGuard();
                 NativeTensor x = NativeTensors.load(data.tensor("eval_x"), toDevice);
                 NativeTensor want = NativeTensors.load(data.tensor("eval_y"), toDevice);
                 Tensor got = net.forward(x.tensor())) {
                inference = maxDiff(got, want.tensor());
            }
            log(String.format("java:   %s: loaded %d entries strictly; inference on %s matches Python within %.2e",
                    s.name(), keys, o.device(), inference));
        }

        // 3. Resume Python's own training checkpoint and take the step Python took next.
        DemoModels.Net model = s.factory().get();
        model.module().to(new Device(o.device()), false);
        Optimizer opt;
        int steps;
        double resume;
        double nextLoss;
        Map<String, Tensor> after;
        try (Checkpoint ckpt = Checkpoint.open(dir.resolve(s.name() + "_checkpoint.pt"));
             Checkpoint data = Checkpoint.open(dir.resolve(s.name() + "_data.pt"));
             Checkpoint pyNext = Checkpoint.open(dir.resolve(s.name() + "_python_next.pt"))) {
            StateDictLoader.builder().entry("model_state_dict").build().load(model.module(), ckpt);
            opt = optimizer((PyDict) data.value("hparams"), model.module());
            OptimizerStates.restore(opt, ckpt.value("optimizer_state_dict"));
            steps = ((Number) data.value("java_steps")).intValue();
            model.module().train(true);
            step(model, opt, data, 0);
            resume = maxDiff(stateDict(model.module()), (PyDict) pyNext.value("model"));
            log(String.format("java:   %s: resumed Python's checkpoint (%s state); the next step matches Python's "
                    + "within %.2e", s.name(), s.name().equals("mlp") ? "Adam" : "SGD momentum", resume));

            // 4. Train on, export model and optimizer, then take one more step.
            for (int i = 1; i < steps; i++) {
                step(model, opt, data, i);
            }
            Map<String, Object> export = new LinkedHashMap<>();
            export.put("model", StateDictExporter.stateDict(model.module()));
            export.put("optimizer", OptimizerStates.export(opt));
            export.put("steps", (long) steps);
            CheckpointWriter.save(export, dir.resolve("java_" + s.name() + "_checkpoint.pt"));
            nextLoss = step(model, opt, data, steps);
            after = stateDict(model.module());
            log(String.format("java:   %s: trained %d steps, exported java_%s_checkpoint.pt (model + optimizer), "
                    + "took step %d (loss %.6f)", s.name(), steps, s.name(), steps + 1, nextLoss));
        }
        return new Java(keys, inference, resume, steps, nextLoss, after);
    }

    /** Without Python: Java on the CPU resumes Java's export and takes the same step. */
    private double[] cpuReplay(Spec s, Java j) throws IOException {
        DemoModels.Net model = s.factory().get();
        try (Checkpoint ckpt = Checkpoint.open(o.workDir().resolve("java_" + s.name() + "_checkpoint.pt"));
             Checkpoint data = Checkpoint.open(o.workDir().resolve(s.name() + "_data.pt"))) {
            StateDictLoader.builder().entry("model").build().load(model.module(), ckpt);
            Optimizer opt = optimizer((PyDict) data.value("hparams"), model.module());
            OptimizerStates.restore(opt, ckpt.value("optimizer"));
            model.module().train(true);
            LoadOptions cpu = LoadOptions.defaults().withMapLocation(MapLocation.to("cpu")).withWritable(true);
            double loss = step(model, opt, data, j.steps(), cpu);
            Map<String, Tensor> replay = stateDict(model.module());
            double diff = 0;
            for (var e : j.after().entrySet()) {
                try (Tensor cpuSide = e.getValue().cpu()) {
                    diff = Math.max(diff, maxDiff(cpuSide, replay.get(e.getKey())));
                }
            }
            log(String.format("java:   %s: no Python here; Java on the CPU resumed the export and took the same step: "
                    + "max |diff| %.2e", s.name(), diff));
            return new double[] {diff, loss};
        }
    }

    private double step(DemoModels.Net model, Optimizer opt, Checkpoint data, int i) {
        return step(model, opt, data, i, toDevice);
    }

    /** One training step on batch {@code i} of the data file; returns the loss before the step. */
    private static double step(DemoModels.Net model, Optimizer opt, Checkpoint data, int i, LoadOptions where) {
        try (NativeTensor x = NativeTensors.load(data.tensor("train_x." + i), where);
             NativeTensor y = NativeTensors.load(data.tensor("train_y." + i), where)) {
            opt.zero_grad();
            try (Tensor out = model.forward(x.tensor());
                 Tensor loss = torch.cross_entropy_loss(out, y.tensor())) {
                loss.backward();
                opt.step();
                return loss.item_double();
            }
        }
    }

    /** The optimizer native_demo.py used, with the hyperparameters it wrote beside the data. */
    static Optimizer optimizer(PyDict hparams, Module m) {
        double lr = ((Number) hparams.get("lr")).doubleValue();
        if ("Adam".equals(hparams.get("optimizer"))) {
            return new Adam(m.parameters(), new AdamOptions(lr));
        }
        SGDOptions o = new SGDOptions(lr);
        o.momentum().put(((Number) hparams.get("momentum")).doubleValue());
        o.weight_decay().put(((Number) hparams.get("weight_decay")).doubleValue());
        return new SGD(m.parameters(), o);
    }

    @SuppressWarnings("try") // a scope guard (PointerScope, NoGradGuard), used for its lifetime alone
    private static Map<String, Tensor> stateDict(Module m) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (NoGradGuard g = new NoGradGuard()) {
            var p = m.named_parameters(true);
            for (long i = 0; i < p.size(); i++) {
                out.put(p.get(i).key().getString(), p.get(i).value().detach().clone());
            }
            var b = m.named_buffers(true);
            for (long i = 0; i < b.size(); i++) {
                out.put(b.get(i).key().getString(), b.get(i).value().clone());
            }
        }
        return out;
    }

    /** max |a - b| over every entry of {@code java}, against the same keys in a Python state dict. */
    private double maxDiff(Map<String, Tensor> java, PyDict python) {
        double max = 0;
        for (var e : java.entrySet()) {
            Object v = python.get(e.getKey());
            if (!(v instanceof io.torchbridge.reader.Tensor t)) {
                throw new IllegalStateException("Python's state dict has no tensor '" + e.getKey() + "'");
            }
            try (NativeTensor p = NativeTensors.load(t, toDevice)) {
                max = Math.max(max, maxDiff(e.getValue(), p.tensor()));
            }
        }
        return max;
    }

    private static double maxDiff(Tensor a, Tensor b) {
        try (Tensor da = a.to(torch.ScalarType.Double); Tensor db = b.to(torch.ScalarType.Double);
             Tensor d = da.sub(db); Tensor abs = d.abs(); Tensor m = abs.max()) {
            return m.item_double();
        }
    }

    private void log(String line) {
        if (o.log() != null) {
            o.log().println(line);
        }
    }
}
