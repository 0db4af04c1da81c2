#!/usr/bin/env python3
"""torch 2.14's side of bench/load-bench.sh: makes the checkpoints and times load_state_dict.

  torch_load.py make GIB OUT        a state_dict of nn.Sequential(Linear(4096, 4096) x N), float32,
                                    N = GIB GiB / 64 MiB, random normal values (seed 0), torch.save
  torch_load.py run CASE FILE N     builds the model (untimed), then times one load and prints one
                                    line: CASE seconds rss_before peak_rss rss_after (bytes)

Cases: mmap     model.load_state_dict(torch.load(f, mmap=True, weights_only=True))
       nommap   model.load_state_dict(torch.load(f, mmap=False, weights_only=True))
       assign   model.load_state_dict(torch.load(f, mmap=True, weights_only=True), assign=True)
                (zero-copy: the parameters become the copy-on-write mapping)
       assign+touch  assign, then every parameter read once (sum), so the mapped pages are in
CASE-warm: the same after one untimed load of FILE.warmup (the first layer alone) into a one-layer
model, so the first-call costs of a fresh process are out of the clock.
RSS: /proc/self/status; the peak (VmHWM) is reset just before the clock starts by writing 5 to
/proc/self/clear_refs, so it is the peak of the load alone.
"""
import sys
import time

import torch
import torch.nn as nn

DIM = 4096


def model(n):
    with torch.no_grad():
        return nn.Sequential(*[nn.Linear(DIM, DIM) for _ in range(n)])


def status():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) * 1024
    return out


def make(gib, path):
    n = round(gib * 2**30 / (DIM * DIM * 4))
    g = torch.Generator().manual_seed(0)
    sd = {}
    for i in range(n):
        sd[f"{i}.weight"] = torch.randn(DIM, DIM, generator=g)
        sd[f"{i}.bias"] = torch.randn(DIM, generator=g)
    torch.save(sd, path)
    torch.save({k: v for k, v in sd.items() if k.startswith("0.")}, path.removesuffix(".tmp").removesuffix(".pt")
               + ".pt.warmup")
    print(f"wrote {path}: {n} layers, and its first layer as the warm-up file")


def run(case, path, n):
    warm = case.endswith("-warm")
    case = case.removesuffix("-warm")
    m = model(n)
    if warm:
        # One untimed load of a small file into a small model first: a process that has loaded
        # before (imports, allocator, first-call paths), as a long-running service is.
        small = model(1)
        small.load_state_dict(torch.load(path + ".warmup", mmap=case != "nommap",
                                          weights_only=True), assign=case.startswith("assign"))
        del small
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = status()["VmRSS"]
    t0 = time.perf_counter()
    if case == "mmap":
        m.load_state_dict(torch.load(path, mmap=True, weights_only=True))
    elif case == "nommap":
        m.load_state_dict(torch.load(path, mmap=False, weights_only=True))
    elif case in ("assign", "assign+touch"):
        m.load_state_dict(torch.load(path, mmap=True, weights_only=True), assign=True)
        if case == "assign+touch":
            with torch.no_grad():
                s = 0
                for p in m.parameters():
                    s += float(p.sum())
    else:
        raise SystemExit("unknown case " + case)
    dt = time.perf_counter() - t0
    st = status()
    print(f"torch/{case}{'-warm' if warm else ''} {dt:.4f} {before} {st['VmHWM']} {st['VmRSS']} 0")


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(float(sys.argv[2]), sys.argv[3])
    else:
        run(sys.argv[2], sys.argv[3], int(sys.argv[4]))
