"""The Python twin of ResNetExample.java: torchvision's ResNet-18 and ResNet-50 with random weights
(no network here, so no pretrained download; a fixed seed instead), BatchNorm statistics made
non-trivial, evaluated on a fixed batch.

    python3 examples/resnet/resnet.py OUT      writes OUT/resnet18.pt, OUT/resnet50.pt (+ .safetensors,
                                               -shards/) and OUT/resnet{18,50}.io.pt (input, output)
"""
import os
import sys

import torch
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import twin  # noqa: E402


def build(arch, seed):
    torch.manual_seed(seed)
    model = getattr(torchvision.models, arch)(weights=None)
    # Fresh BatchNorm layers have mean 0, variance 1, weight 1, bias 0: eval would skip most of
    # what BatchNorm does. Random statistics and affine values (and a count of batches seen), as
    # after training, so Java must use every buffer right.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.num_batches_tracked.fill_(1234)
    return model.eval()


def main(out):
    for arch, seed in (("resnet18", 18), ("resnet50", 50)):
        model = build(arch, seed)
        torch.manual_seed(1000 + seed)
        x = torch.randn(2, 3, 224, 224)
        with torch.no_grad():
            y = model(x)
        twin.save_all(out, arch, model, {"input": x, "output": y})


if __name__ == "__main__":
    main(sys.argv[1])
