package lstm;

import common.Reference;
import common.Weights;
import io.torchbridge.libtorch.LoadReport;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.global.torch;

/**
 * The 2-layer LSTM language model with tied weights ({@link LstmLanguageModel}), with Python's
 * weights, on Python's tokens and initial state: logits and the final {@code (h, c)} must be
 * Python's within {@link Reference#TOLERANCE} relative.
 *
 * <p>The tied weight is in {@code lstm.pt} under both names (one storage); a
 * {@code .safetensors} file or Hugging Face shards keep only one of them. So the load is not
 * strict about those two names, and strict about everything else, as
 * {@code safetensors.torch.load_model} is: nothing unexpected, no shape that differs, every other
 * key present, and at least one of the two tied names.
 *
 * <pre>
 *   python3 examples/lstm/lstm.py /tmp/lstm
 *   java ... lstm.LstmExample /tmp/lstm [.pt] [.safetensors] [-shards] [--device cuda:0] [--zero-copy]
 * </pre>
 *
 * On another device the model is moved there before loading: the tied weight moves as one
 * tensor (both modules hold the same parameter), which {@link LstmLanguageModel#tied} checks.
 */
public final class LstmExample {
    private static final Set<String> TIED = Set.of("encoder.weight", "decoder.weight");

    private LstmExample() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        String device = Weights.device(System.out, args);
        // libtorch 2.10's oneDNN (mkldnn) LSTM kernel computes wrong outputs on some CPUs: on an
        // AMD EPYC with AVX-512, up to 0.6 off for hidden sizes that are not a multiple of 64, such
        // as this model's 650 (torch 2.14's is right there). libtorch's own kernel is right
        // everywhere, so the example runs without oneDNN; README.md, "Known libtorch issues".
        torch.globalContext().setUserEnabledMkldnn(false);
        boolean ok = true;
        for (String suffix : Weights.suffixes(args)) {
            LstmLanguageModel model = LstmLanguageModel.medium();
            model.to(new Device(device), false);
            LoadReport r = Weights.load(System.out, model, dir.resolve("lstm" + suffix),
                    Weights.loader(args).strict(false).build());
            List<String> missing = r.missingKeys();
            if (!r.unexpectedKeys().isEmpty() || !r.mismatches().isEmpty() || !TIED.containsAll(missing)
                    || missing.size() == TIED.size()) {
                throw new IllegalStateException("the weights do not fit: " + r);
            }
            System.out.println("tied weight: " + (missing.isEmpty()
                    ? "in the file under both names, loaded twice into one tensor"
                    : "in the file once, missing " + missing + " is the same tensor") + "; still tied: " + model.tied());
            model.eval();
            ok &= model.tied();
            try (Reference ref = Reference.open(dir, "lstm", device); NoGradGuard noGrad = new NoGradGuard()) {
                LstmLanguageModel.Output out = model.forward(ref.tensor("tokens"), ref.tensor("h0"), ref.tensor("c0"));
                ref.compare(System.out, "lstm logits (eval)", out.logits(), "logits");
                ref.compare(System.out, "lstm final h", out.h(), "h");
                ref.compare(System.out, "lstm final c", out.c(), "c");
                ok &= ref.passed();
            }
        }
        System.out.println(ok ? "PASS" : "FAIL");
        System.exit(ok ? 0 : 1);
    }
}
