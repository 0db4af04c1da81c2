"""The Python twin of TransformerExample.java: nn.TransformerEncoder, 6 layers of
nn.TransformerEncoderLayer(d_model=512, nhead=8, dim_feedforward=2048), batch_first=True, random
weights from a fixed seed, evaluated on a padded batch with src_key_padding_mask.

    python3 examples/transformer/transformer.py OUT    writes OUT/transformer.pt (+ .safetensors,
                                                       -shards/) and OUT/transformer.io.pt

In eval mode PyTorch takes its "fast path" here (torch/nn/modules/transformer.py,
TransformerEncoder.forward): the padded batch becomes a nested tensor, each layer runs the fused
torch._transformer_encoder_layer_fwd kernel, and the result is padded back with zeros. So the
padded positions of Python's actual output are exactly 0, and the other positions come from other
kernels than the layer-by-layer ("slow") path. Both are saved:
  output        the actual eval output (fast path; padded positions 0)         <- what Java must match
  output_slow   the same weights with the fast path off (padded positions hold whatever the layers
                computed there; real positions differ from `output` by float32 rounding)
  fast_path     1 if the fast path was taken (output's padded rows are all 0), recorded so a later
                torch that changes this is noticed
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import twin  # noqa: E402

BATCH, SEQ, D_MODEL = 3, 32, 512
LENGTHS = (32, 20, 7)


def main(out):
    torch.manual_seed(512)
    layer = nn.TransformerEncoderLayer(D_MODEL, nhead=8, dim_feedforward=2048, dropout=0.1, batch_first=True)
    model = nn.TransformerEncoder(layer, num_layers=6).eval()
    torch.manual_seed(513)
    src = torch.randn(BATCH, SEQ, D_MODEL)
    # True marks padding (positions at and after each sequence's length), as PyTorch's mask means.
    mask = torch.arange(SEQ).unsqueeze(0) >= torch.tensor(LENGTHS).unsqueeze(1)
    with torch.no_grad():
        y = model(src, src_key_padding_mask=mask)
        torch.backends.mha.set_fastpath_enabled(False)
        y_slow = model(src, src_key_padding_mask=mask)
        torch.backends.mha.set_fastpath_enabled(True)
    fast = bool((y[mask] == 0).all()) and not bool((y_slow[mask] == 0).all())
    real = ~mask
    print(f"transformer: fast vs slow path on the real positions, max |diff| = "
          f"{(y[real] - y_slow[real]).abs().max().item():.3e}; fast path taken: {fast}")
    twin.save_all(out, "transformer", model, {
        "src": src, "src_key_padding_mask": mask, "output": y, "output_slow": y_slow,
        "fast_path": torch.tensor(1 if fast else 0)})


if __name__ == "__main__":
    main(sys.argv[1])
