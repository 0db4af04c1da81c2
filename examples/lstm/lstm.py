"""The Python twin of LstmExample.java: a 2-layer LSTM language model with tied embedding and
decoder weights, the layout of PyTorch's word_language_model example (RNNModel with
tie_weights=True), at its "medium" size (650 units) over a PTB-sized vocabulary of 10000 words;
random weights from a fixed seed.

    python3 examples/lstm/lstm.py OUT     writes OUT/lstm.pt (+ .safetensors, -shards/) and OUT/lstm.io.pt

Tied weights in the files:
  lstm.pt            state_dict() lists the tied tensor under both names, encoder.weight and
                     decoder.weight; torch.save writes its storage once and both entries point at it.
  lstm.safetensors   safetensors.torch.save_model keeps one of the names (shared tensors cannot be
                     stored twice); load_model ties them again through the model.
  lstm-shards/       huggingface_hub.save_torch_state_dict drops the duplicate the same way.
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import twin  # noqa: E402

NTOKEN, NINP, NHID, NLAYERS = 10000, 650, 650, 2
SEQ, BATCH = 35, 4


class RNNModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout(0.5)
        self.encoder = nn.Embedding(NTOKEN, NINP)
        self.rnn = nn.LSTM(NINP, NHID, NLAYERS, dropout=0.5)
        self.decoder = nn.Linear(NHID, NTOKEN)
        self.decoder.weight = self.encoder.weight  # tied: one Parameter, two names

    def forward(self, tokens, hidden):
        emb = self.drop(self.encoder(tokens))
        output, hidden = self.rnn(emb, hidden)
        return self.decoder(self.drop(output)), hidden


def main(out):
    torch.manual_seed(650)
    model = RNNModel().eval()
    torch.manual_seed(651)
    tokens = torch.randint(0, NTOKEN, (SEQ, BATCH))
    h0 = torch.randn(NLAYERS, BATCH, NHID) * 0.1
    c0 = torch.randn(NLAYERS, BATCH, NHID) * 0.1
    with torch.no_grad():
        logits, (h, c) = model(tokens, (h0, c0))
    sd = model.state_dict()
    assert sd["encoder.weight"].data_ptr() == sd["decoder.weight"].data_ptr()
    twin.save_all(out, "lstm", model, {"tokens": tokens, "h0": h0, "c0": c0, "logits": logits, "h": h, "c": c})
    from safetensors import safe_open
    with safe_open(os.path.join(out, "lstm.safetensors"), "pt") as f:
        kept = [k for k in f.keys() if k in ("encoder.weight", "decoder.weight")]
    print(f"lstm: state_dict has both tied names; lstm.safetensors keeps {kept}")


if __name__ == "__main__":
    main(sys.argv[1])
