package lstm;

import org.bytedeco.pytorch.LSTMImpl;
import org.bytedeco.pytorch.LSTMOptions;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * Does this machine's libtorch compute the same LSTM with oneDNN (mkldnn) as without it? Prints,
 * for a few hidden sizes, the largest difference between the two on the same random weights and
 * inputs; libtorch's own kernel (oneDNN off) is the one that agrees with torch (README.md, "Known
 * libtorch issues"). Exits 1 when any size differs by more than 1e-4.
 *
 * <pre>
 *   java -cp examples/target/classes:$(cat examples/target/classpath.txt) lstm.OneDnnProbe
 * </pre>
 */
public final class OneDnnProbe {
    private OneDnnProbe() {
    }

    public static void main(String[] args) {
        boolean same = true;
        try (NoGradGuard noGrad = new NoGradGuard()) {
            for (int hidden : new int[] {64, 100, 256, 650, 1024}) {
                torch.manual_seed(0);
                LSTMOptions o = new LSTMOptions(hidden, hidden);
                LSTMImpl lstm = new LSTMImpl(o);
                lstm.eval();
                Tensor x = torch.randn(35, 4, hidden);
                torch.globalContext().setUserEnabledMkldnn(true);
                Tensor on = lstm.forward(x).get0();
                torch.globalContext().setUserEnabledMkldnn(false);
                Tensor off = lstm.forward(x).get0();
                float diff = on.sub(off).abs().max().item_float();
                same &= diff <= 1e-4;
                System.out.printf("hidden %4d: max |oneDNN - libtorch's own| = %.3g%s%n", hidden, diff,
                        diff <= 1e-4 ? "" : "  (differs)");
            }
        }
        System.out.println(same ? "oneDNN's LSTM agrees here" : "oneDNN's LSTM differs here: run LSTMs with "
                + "torch.globalContext().setUserEnabledMkldnn(false)");
        System.exit(same ? 0 : 1);
    }
}
