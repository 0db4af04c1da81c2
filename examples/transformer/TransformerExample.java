package transformer;

import common.Reference;
import common.Weights;
import java.nio.file.Path;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TransformerEncoderImpl;
import org.bytedeco.pytorch.TransformerEncoderLayerOptions;
import org.bytedeco.pytorch.TransformerEncoderOptions;

/**
 * {@code nn.TransformerEncoder(nn.TransformerEncoderLayer(512, 8, 2048), 6)} as libtorch's own
 * {@code torch::nn::TransformerEncoder}, whose state-dict keys are Python's
 * ({@code layers.0.self_attn.in_proj_weight}, {@code layers.0.linear1.weight},
 * {@code layers.5.norm2.bias}), with Python's weights, on Python's padded batch and
 * {@code src_key_padding_mask}.
 *
 * <p>What is compared, and why: in eval mode Python takes its fast path (nested tensors, a fused
 * layer kernel) and returns exactly 0 at padded positions; libtorch's C++ encoder has no fast path
 * and computes every position. So Java zeroes the padded positions as the nested tensor's
 * {@code to_padded_tensor(0.0)} does and compares the whole output with Python's actual eval
 * output ({@code output}). It also compares its raw output, padded positions included, with
 * Python's output with the fast path switched off ({@code output_slow}). The C++ module takes
 * sequence-first input; Python's model is {@code batch_first=True}, so Java transposes in and out.
 *
 * <pre>
 *   python3 examples/transformer/transformer.py /tmp/transformer
 *   java ... transformer.TransformerExample /tmp/transformer [.pt] [.safetensors] [-shards] [--device cuda:0] [--zero-copy]
 * </pre>
 */
public final class TransformerExample {
    private TransformerExample() {
    }

    /** Python's {@code nn.TransformerEncoder(nn.TransformerEncoderLayer(512, 8, 2048, 0.1), 6)}. */
    public static TransformerEncoderImpl encoder() {
        TransformerEncoderLayerOptions layer = new TransformerEncoderLayerOptions(512, 8);
        layer.dim_feedforward().put(2048);
        layer.dropout().put(0.1);
        return new TransformerEncoderImpl(new TransformerEncoderOptions(layer, 6));
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        String device = Weights.device(System.out, args);
        boolean ok = true;
        for (String suffix : Weights.suffixes(args)) {
            TransformerEncoderImpl model = encoder();
            model.to(new Device(device), false);
            Weights.load(System.out, model, dir.resolve("transformer" + suffix), Weights.loader(args).build());
            model.eval();
            try (Reference ref = Reference.open(dir, "transformer", device); NoGradGuard noGrad = new NoGradGuard()) {
                Tensor src = ref.tensor("src");                       // [batch, seq, 512]
                Tensor pad = ref.tensor("src_key_padding_mask");      // [batch, seq], true = padding
                Tensor raw = model.forward(src.transpose(0, 1), new Tensor(), pad).transpose(0, 1);
                Tensor zeroed = raw.masked_fill(pad.unsqueeze(-1), new Scalar(0.0));
                if (ref.tensor("fast_path").item_long() != 1) {
                    System.out.println("note: Python did not take its fast path; its padded positions are not 0");
                }
                ref.compare(System.out, "encoder, padded positions 0 vs eval output", zeroed, "output");
                ref.compare(System.out, "encoder, every position vs slow-path output", raw, "output_slow");
                ok &= ref.passed();
            }
        }
        System.out.println(ok ? "PASS" : "FAIL");
        System.exit(ok ? 0 : 1);
    }
}
