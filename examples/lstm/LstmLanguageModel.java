package lstm;

import org.bytedeco.pytorch.EmbeddingImpl;
import org.bytedeco.pytorch.LSTMImpl;
import org.bytedeco.pytorch.LSTMOptions;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.T_TensorT_TensorTensor_T_T;
import org.bytedeco.pytorch.T_TensorTensor_T;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * PyTorch's word_language_model {@code RNNModel} (LSTM, tie_weights=True) from libtorch modules
 * under Python's names: {@code encoder} (Embedding), {@code rnn} (a 2-layer LSTM, keys
 * {@code rnn.weight_ih_l0} ... {@code rnn.bias_hh_l1}), {@code decoder} (Linear whose weight IS
 * the embedding's).
 *
 * <p>Tying: Python assigns {@code decoder.weight = encoder.weight}, one Parameter under two names,
 * and {@code state_dict()} lists it twice ({@code encoder.weight}, {@code decoder.weight}).
 * libtorch's {@code Linear} owns its weight, so the decoder here is a small module that registers
 * the embedding's weight tensor as its own {@code weight} parameter: the Java module then has the
 * same two keys over one tensor, and loading writes both into that one tensor. Dropout (Python's
 * {@code drop}) holds no tensors and is the identity in eval, so it is left out.
 */
public final class LstmLanguageModel extends Module {
    /** {@code nn.Linear(nhid, ntoken)} with a weight given from outside (the embedding's). */
    public static final class TiedLinear extends Module {
        final Tensor weight;
        final Tensor bias;

        TiedLinear(Tensor weight, long outFeatures) {
            // register_parameter returns a reference into the module's parameter table, which
            // moves when the table grows: keep handles of our own (they share the tensor).
            this.weight = new Tensor(register_parameter("weight", weight));
            this.bias = new Tensor(register_parameter("bias", torch.zeros(outFeatures)));
        }

        Tensor forward(Tensor x) {
            return torch.linear(x, weight, new org.bytedeco.pytorch.TensorOptional(bias));
        }
    }

    public final EmbeddingImpl encoder;
    public final LSTMImpl rnn;
    public final TiedLinear decoder;

    public LstmLanguageModel(long ntoken, long ninp, long nhid, long nlayers, double dropout) {
        encoder = register_module("encoder", new EmbeddingImpl(ntoken, ninp));
        LSTMOptions o = new LSTMOptions(ninp, nhid);
        o.num_layers().put(nlayers);
        o.dropout().put(dropout);
        rnn = register_module("rnn", new LSTMImpl(o));
        if (nhid != ninp) {
            throw new IllegalArgumentException("tied weights need nhid == ninp");
        }
        decoder = register_module("decoder", new TiedLinear(new Tensor(encoder.weight()), ntoken));
    }

    /** The model of examples/lstm/lstm.py: 10000 words, 650 units, 2 layers. */
    public static LstmLanguageModel medium() {
        return new LstmLanguageModel(10000, 650, 650, 2, 0.5);
    }

    /** Output of one forward: logits {@code [seq, batch, ntoken]} and the LSTM's final state. */
    public record Output(Tensor logits, Tensor h, Tensor c) {
    }

    /** Tokens {@code [seq, batch]} (int64) and the initial state {@code (h0, c0)}, each {@code [layers, batch, nhid]}. */
    public Output forward(Tensor tokens, Tensor h0, Tensor c0) {
        T_TensorT_TensorTensor_T_T r = rnn.forward(encoder.forward(tokens), new T_TensorTensor_T(h0, c0));
        T_TensorTensor_T state = r.get1();
        return new Output(decoder.forward(r.get0()), state.get0(), state.get1());
    }

    /** Whether the decoder's weight is still the embedding's tensor (same memory). */
    public boolean tied() {
        try (Tensor embedding = new Tensor(encoder.weight())) {
            return embedding.data_ptr().address() == decoder.weight.data_ptr().address();
        }
    }
}
