"""Torch side of the scaling benchmark (bench/scale-bench.sh); run it with the real torch (2.14.1).

  torch_scale.py make count N PATH       N small fp32 tensors (64 elements, 256 B each), one storage each
  torch_scale.py make adam N PATH        a training checkpoint: a model of N small parameters, its Adam
                                         state after one step (step, exp_avg, exp_avg_sq per parameter)
  torch_scale.py make size GIB SCRATCH PATH
                                         GIB GiB of 128 MiB fp32 tensors, the bytes taken from the
                                         random file SCRATCH (made here when too short; kept)
  torch_scale.py serve                   a timing server for scale_bench.py (the protocol below)

Each file is written to PATH.partial, fsynced and renamed, so a half-written file is never used.

The server reads one command per line on stdin and answers one line on stdout, "ok ..." or
"error MESSAGE". Times are wall seconds (time.perf_counter) of the work alone; what a run loaded
is dropped after the clock stops, outside the timing (as the Java side does). Commands:
  open PATH         torch.load(PATH, mmap=True, weights_only=True), then a walk of the result that
                    counts the tensors and their bytes: "ok SECONDS TENSORS BYTES"
  touch PATH        the same load, then every byte of every tensor read once (the int64 sum of
                    read-bench's torch_read.py): "ok SECONDS TENSORS CHECKSUM"
  small N           makes N small tensors in memory (as `make count`) for the save command: "ok"
  load PATH         loads PATH into memory (mmap=False) for the save command: "ok"
  save OUT          torch.save of what small/load made, to OUT (no fsync: torch.save does none): "ok SECONDS"
  drop              forgets what small/load made: "ok"
  quit
"""
import gc
import os
import sys
import time

import torch

SMALL = 64  # elements per small tensor: 256 bytes of fp32, like a norm weight or a bias
CHUNK = 128 << 20  # bytes per tensor of the sized files


def save_atomically(obj, path):
    tmp = path + ".partial"
    torch.save(obj, tmp)
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)  # clean pages only: the benchmark's eviction can then drop the whole file
    finally:
        os.close(fd)
    os.replace(tmp, path)


def small_tensors(n):
    # One generator call, then a clone per tensor so that every tensor has its own storage (a
    # view of the big one would share it, and torch.save would write one record).
    g = torch.Generator().manual_seed(n)
    big = torch.randn(n, SMALL, generator=g)
    return {f"blocks.{i // 4}.{('weight', 'bias', 'scale', 'shift')[i % 4]}": big[i].clone() for i in range(n)}


def make_count(n, path):
    save_atomically(small_tensors(n), path)


def make_adam(n, path):
    params = [torch.nn.Parameter(t) for t in small_tensors(n).values()]
    names = [f"layers.{i // 2}.{('weight', 'bias')[i % 2]}" for i in range(n)]
    opt = torch.optim.Adam(params, lr=1e-3)
    g = torch.Generator().manual_seed(1)
    for p in params:
        p.grad = torch.randn(p.shape, generator=g)
    opt.step()
    model = {name: p.detach() for name, p in zip(names, params)}
    save_atomically({"epoch": 3, "model": model, "optimizer": opt.state_dict()}, path)


def make_size(gib, scratch, path):
    import numpy as np

    nbytes = gib << 30
    have = os.path.getsize(scratch) if os.path.exists(scratch) else 0
    if have < nbytes:
        # Random bytes (not zeros: nothing may shortcut them), written once and reused for every size.
        rng = np.random.default_rng(have)
        with open(scratch, "ab") as f:
            for _ in range((nbytes - have) // CHUNK):
                f.write(rng.bytes(CHUNK))
    # Tensors over the scratch file's pages (copy-on-write mapping, never written): torch.save
    # reads them from the page cache, so the checkpoint never has to fit in anonymous memory.
    mm = np.memmap(scratch, dtype=np.float32, mode="c", shape=(nbytes // 4,))
    per = CHUNK // 4
    sd = {f"layers.{i}.weight": torch.from_numpy(mm[i * per:(i + 1) * per]).view(8192, per // 8192)
          for i in range(nbytes // CHUNK)}
    save_atomically(sd, path)


def tensors_of(obj, out):
    """The tensors in a loaded object (dicts, lists, tuples), depth first."""
    if isinstance(obj, torch.Tensor):
        out.append(obj)
    elif isinstance(obj, dict):
        for v in obj.values():
            tensors_of(v, out)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            tensors_of(v, out)
    return out


def touch(t):
    # As torch_read.py: the wrapping int64 sum of the tensor's bytes reads every byte once.
    return int(t.reshape(-1).view(torch.int64).sum())


def load_and_walk(path, read_all):
    """One timed run: the load, then the tensor bytes summed up (open) or every byte read (touch).

    A function of its own so that everything it loaded, down to the last loop variable, is
    unreferenced when it returns: torch maps the whole file once for all the tensors, and a single
    live tensor would keep the mapping, and with it the file's pages, in place (an eviction of the
    file from the page cache cannot drop mapped pages).
    """
    t0 = time.perf_counter()
    obj = torch.load(path, mmap=True, weights_only=True)
    ts = tensors_of(obj, [])
    if read_all:
        value = 0
        for t in ts:
            value = (value + touch(t)) & 0xFFFFFFFFFFFFFFFF
    else:
        value = sum(t.numel() * t.element_size() for t in ts)
    return time.perf_counter() - t0, len(ts), value


def serve():
    kept = None
    for line in sys.stdin:
        cmd, *args = line.split()
        try:
            if cmd == "quit":
                break
            gc.collect()
            if cmd in ("open", "touch"):
                s, n, value = load_and_walk(args[0], cmd == "touch")
                gc.collect()
                reply = f"ok {s:.6f} {n} {value}"
            elif cmd == "small":
                kept = None
                kept = small_tensors(int(args[0]))
                reply = "ok"
            elif cmd == "load":
                kept = None
                gc.collect()
                kept = torch.load(args[0], mmap=False, weights_only=True)
                reply = "ok"
            elif cmd == "save":
                t0 = time.perf_counter()
                torch.save(kept, args[0])
                reply = f"ok {time.perf_counter() - t0:.6f}"
            elif cmd == "drop":
                kept = None
                gc.collect()
                reply = "ok"
            elif cmd == "version":
                reply = f"ok torch {torch.__version__} threads {torch.get_num_threads()}"
            else:
                reply = f"error unknown command {cmd}"
        except Exception as e:  # the driver reports it and stops
            reply = f"error {type(e).__name__}: {e}".replace("\n", " ")
        print(reply, flush=True)


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[:2] == ["make", "count"] and len(a) == 4:
        make_count(int(a[2]), a[3])
    elif a[:2] == ["make", "adam"] and len(a) == 4:
        make_adam(int(a[2]), a[3])
    elif a[:2] == ["make", "size"] and len(a) == 5:
        make_size(int(a[2]), a[3], a[4])
    elif a == ["serve"]:
        serve()
    else:
        sys.exit(__doc__)
