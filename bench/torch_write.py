"""The torch side of bench/write-bench.sh: time torch.save of the benchmark state_dict.

Usage: python3 torch_write.py SRC OUT_DIR REPEAT
Loads SRC into memory once (mmap=False), then saves it REPEAT times to OUT_DIR/torch.pt, printing
one line "torch.save SECONDS" per run.
"""
import os
import sys
import time

import torch

src, out_dir, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
sd = torch.load(src, weights_only=True)
out = os.path.join(out_dir, "torch.pt")
for _ in range(repeat):
    os.sync()  # no dirty pages queued from the previous run
    t0 = time.perf_counter()
    torch.save(sd, out)
    print(f"torch.save {time.perf_counter() - t0:.4f}", flush=True)
    os.unlink(out)
