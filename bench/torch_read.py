"""Torch side of the TorchBridge read benchmark (run it with the real torch, e.g. 2.14.1).

  torch_read.py make PATH              writes the ~1.25 GiB fp32 state_dict to PATH (atomically)
  torch_read.py time PATH OUT [REPEAT] times torch on PATH, writes key=value results to OUT
  torch_read.py load PATH OUT [REPEAT] times only torch.load(mmap=False), as torch_load_keepmem
                                       (read-bench.sh runs it with glibc told to keep freed memory)

Timings (each run once untimed, then REPEAT times, default 5; the median is reported, the min
is written too; what a run loaded is freed after its clock stops):
  torch_load       torch.load(PATH, mmap=False, weights_only=True): every storage read into RAM
  torch_mmap_touch torch.load(PATH, mmap=True, weights_only=True), then every byte read once by
                   summing each tensor as int64 words (t.view(torch.int64).sum(); see touch())
  torch_mmap_touch_1t  the same with torch.set_num_threads(1) (for information)
  memcpy           numpy.copyto of a 1.25 GiB-sized uint8 array into another, both already in RAM
                   and pre-faulted: one single-threaded memcpy of the same number of bytes
  memcpy_torch     the same with torch's dst.copy_(src) on all intra-op threads (for information)
"""
import gc
import os
import statistics
import sys
import time

import numpy as np
import torch

# The shape of the model: a decoder-only transformer with vocab 32768, hidden 1024, MLP 4096,
# 16 layers, biases on the attention projections. 211 fp32 tensors from 4 KiB to 128 MiB,
# 1.25 GiB of data in all (the 1024 x 32768 embedding and head are 128 MiB each).
VOCAB, HIDDEN, MLP, LAYERS = 32768, 1024, 4096, 16


def make(path):
    g = torch.Generator().manual_seed(0)
    sd = {"model.embed_tokens.weight": torch.randn(VOCAB, HIDDEN, generator=g)}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        sd[p + "input_layernorm.weight"] = torch.ones(HIDDEN)
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            sd[p + f"self_attn.{proj}.weight"] = torch.randn(HIDDEN, HIDDEN, generator=g) * 0.02
            sd[p + f"self_attn.{proj}.bias"] = torch.randn(HIDDEN, generator=g) * 0.02
        sd[p + "post_attention_layernorm.weight"] = torch.ones(HIDDEN)
        sd[p + "mlp.gate_proj.weight"] = torch.randn(MLP, HIDDEN, generator=g) * 0.02
        sd[p + "mlp.up_proj.weight"] = torch.randn(MLP, HIDDEN, generator=g) * 0.02
        sd[p + "mlp.down_proj.weight"] = torch.randn(HIDDEN, MLP, generator=g) * 0.02
    sd["model.norm.weight"] = torch.ones(HIDDEN)
    sd["lm_head.weight"] = torch.randn(VOCAB, HIDDEN, generator=g) * 0.02
    tmp = path + ".partial"
    torch.save(sd, tmp)
    os.replace(tmp, path)
    nbytes = sum(t.numel() * t.element_size() for t in sd.values())
    print(f"torch_read: wrote {path}: {len(sd)} fp32 tensors, {nbytes} data bytes "
          f"({nbytes / 2**30:.3f} GiB), file {os.path.getsize(path)} bytes, torch {torch.__version__}")


def touch(t):
    # Reads every byte of t once. An int64 sum is exact (no float rounding, no NaN games), needs no
    # conversion, and was the fastest full read of the candidates tried on this machine: t.sum(),
    # t.max() and t.view(torch.uint8).max() were as fast or slower, t.view(torch.int32).sum() (which
    # widens to int64) 20x slower. Every tensor here is fp32 with an even number of elements, so the
    # int64 view covers exactly its bytes.
    return int(t.view(torch.int64).sum())


def timed(fn, repeat, warmup=1):
    """Runs fn warmup times untimed, then repeat times; returns the wall times and fn's last result.

    fn returns (value, keep): keep (the loaded dict) is dropped after the clock stops, so freeing
    it (munmap of its memory or mapping) is not timed, as the Java side does not time its GC.
    """
    times, value = [], None
    for i in range(warmup + repeat):
        gc.collect()
        t0 = time.perf_counter()
        value, keep = fn()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
        del keep
    gc.collect()
    return times, value


def load_copy(path):
    sd = torch.load(path, mmap=False, weights_only=True)
    return (len(sd), sum(t.numel() * t.element_size() for t in sd.values())), sd


def write(out, res):
    with open(out, "w") as f:
        for k, v in res.items():
            if isinstance(v, list):
                f.write(f"{k[:-2]}.median_s={statistics.median(v):.6f}\n")
                f.write(f"{k[:-2]}.min_s={min(v):.6f}\n")
                f.write(f"{k[:-2]}.all_s={','.join(f'{x:.6f}' for x in v)}\n")
            else:
                f.write(f"{k}={v}\n")


def run_load(path, out, repeat):
    times, _ = timed(lambda: load_copy(path), repeat, warmup=2)
    write(out, {"torch_load_keepmem_s": times})


def run(path, out, repeat):
    threads = torch.get_num_threads()
    res = {"torch_version": torch.__version__, "torch_threads": threads, "repeat": repeat}

    def load_mmap_touch():
        sd = torch.load(path, mmap=True, weights_only=True)
        s = 0
        for t in sd.values():
            s = (s + touch(t)) & 0xFFFFFFFFFFFFFFFF
        return s, sd

    times, (count, nbytes) = timed(lambda: load_copy(path), repeat)
    res["tensors"], res["data_bytes"] = count, nbytes
    res["torch_load_s"] = times
    times, checksum = timed(load_mmap_touch, repeat)
    res["torch_mmap_touch_s"] = times
    res["torch_mmap_touch_checksum"] = checksum
    torch.set_num_threads(1)
    times, _ = timed(load_mmap_touch, repeat)
    res["torch_mmap_touch_1t_s"] = times

    src = np.random.default_rng(0).integers(0, 256, nbytes, dtype=np.uint8)
    dst = np.ones(nbytes, dtype=np.uint8)  # written once, so every page is faulted in
    np.copyto(dst, src)
    times, _ = timed(lambda: (np.copyto(dst, src), None), repeat)
    res["memcpy_s"] = times
    torch.set_num_threads(threads)
    tsrc, tdst = torch.from_numpy(src), torch.from_numpy(dst)
    times, _ = timed(lambda: (tdst.copy_(tsrc), None), repeat)
    res["memcpy_torch_s"] = times
    write(out, res)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "make":
        make(sys.argv[2])
    elif len(sys.argv) >= 4 and sys.argv[1] == "time":
        run(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 5)
    elif len(sys.argv) >= 4 and sys.argv[1] == "load":
        run_load(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 5)
    else:
        sys.exit(__doc__)
