"""Torch side of the multi-file benchmark (bench/shards-bench.sh); run it with the real torch (2.14.1).

  torch_shards.py make-hf GIB SHARD_BYTES SCRATCH DIR
      A Hugging Face sharded checkpoint of about GIB GiB in DIR, written by huggingface_hub's
      save_torch_state_dict with max_shard_size=SHARD_BYTES: a decoder-only transformer's bf16
      state_dict with a fixed 2,403 tensors (200 layers of 12, embedding, final norm, head) whose
      hidden size scales with GIB, so 2 GiB and 20 GiB have the same names and count.
  torch_shards.py make-dcp HF_DIR DIR
      A torch.distributed.checkpoint directory of the same tensors, written by 2 ranks (two
      processes, gloo on localhost): every tensor a DTensor sharded by rows (Shard(0)) over a
      2-rank CPU mesh, each rank holding its half; dcp.save writes __0_0.distcp and __1_0.distcp.
  torch_shards.py serve
      A timing server for shards_bench.py (protocol below).

Nothing here holds 20 GiB in memory (the machine has 24 GB): make-hf first writes the values to
SCRATCH (a cheap pattern, 16 MiB at a time) and hands save_torch_state_dict tensors over a
copy-on-write mapping of it (page cache, never written); make-dcp's ranks take their local
halves straight from the mapped safetensors shards. So both checkpoints hold the same values, and
a reader's checksum over either must be the same. Each is written under DIR.partial and renamed.

The server reads one command per line and answers one line, "ok ..." or "error MESSAGE"; times
are wall seconds of the work alone:
  open DIR       every shard opened with safetensors.safe_open (framework "pt") through the index,
                 each tensor's shape and dtype read (metadata only): "ok SECONDS TENSORS"
  load DIR       every shard loaded with safetensors.torch.load_file (one shard in memory at a
                 time, what huggingface_hub's load_state_dict_from_file does), then every byte
                 read once (the wrapping int64 sum of each tensor, as torch_scale.py's touch):
                 "ok SECONDS TENSORS CHECKSUM"
  version
  quit
"""
import gc
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch

LAYERS = 200
VOCAB = 32000
BLOCK = 16 << 20  # bytes of the pattern written per step
PORT = 29533


def hidden_for(gib):
    # Per layer: q, k, v, o (h x h), gate, up, down (h x 2.75h); 2 bytes each (bf16), plus two
    # embeddings of VOCAB x h. Rounded down to a multiple of 16 (numel divisible by 4 everywhere).
    per_h2 = LAYERS * 2 * (4 + 3 * 2.75)
    h = int(math.sqrt(gib * (1 << 30) / per_h2))
    while h > 16 and LAYERS * 2 * (4 * h * h + 3 * h * (h * 11 // 4)) + 2 * 2 * VOCAB * h > gib * (1 << 30):
        h -= 16
    return max(16, h // 16 * 16)


def layout(gib):
    """[(name, shape)] in state_dict order."""
    h = hidden_for(gib)
    f = h * 11 // 4
    out = [("model.embed_tokens.weight", (VOCAB, h))]
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        out += [(p + "input_layernorm.weight", (h,)),
                (p + "self_attn.q_proj.weight", (h, h)), (p + "self_attn.q_proj.bias", (h,)),
                (p + "self_attn.k_proj.weight", (h, h)), (p + "self_attn.k_proj.bias", (h,)),
                (p + "self_attn.v_proj.weight", (h, h)), (p + "self_attn.v_proj.bias", (h,)),
                (p + "self_attn.o_proj.weight", (h, h)),
                (p + "post_attention_layernorm.weight", (h,)),
                (p + "mlp.gate_proj.weight", (f, h)), (p + "mlp.up_proj.weight", (f, h)),
                (p + "mlp.down_proj.weight", (h, f))]
    out += [("model.norm.weight", (h,)), ("lm_head.weight", (VOCAB, h))]
    return out


def fsync_tree(d):
    for root, _, files in os.walk(d):
        for n in files:
            fd = os.open(os.path.join(root, n), os.O_RDONLY)
            try:
                os.fsync(fd)  # clean pages: the benchmark's eviction can then drop whole files
            finally:
                os.close(fd)


def make_hf(gib, shard_bytes, scratch, out):
    from huggingface_hub import save_torch_state_dict

    lay = layout(gib)
    nbytes = sum(2 * math.prod(s) for _, s in lay)
    # The pattern: 16-bit counters, each 16 MiB block starting where its index says, so blocks
    # differ and no tensor is all zeros; written once, in pieces, at disk speed.
    base = np.arange(BLOCK // 2, dtype=np.uint16)
    with open(scratch, "wb") as f:
        for b in range((nbytes + BLOCK - 1) // BLOCK):
            f.write((base + np.uint16(b * 7919 % 65536)).tobytes())
    mm = np.memmap(scratch, dtype=np.uint16, mode="c", shape=(nbytes // 2,))
    sd, at = {}, 0
    for name, shape in lay:
        n = math.prod(shape)
        sd[name] = torch.from_numpy(mm[at:at + n]).view(torch.bfloat16).view(shape)
        at += n
    tmp = out + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    save_torch_state_dict(sd, tmp, max_shard_size=shard_bytes)
    del sd, mm
    fsync_tree(tmp)
    os.replace(tmp, out)
    os.unlink(scratch)


def shard_views(hf_dir):
    """{name: (a copy-on-write mapping of its shard, the tensor's first byte there, shape)}."""
    with open(os.path.join(hf_dir, "model.safetensors.index.json")) as f:
        files = sorted(set(json.load(f)["weight_map"].values()))
    out = {}
    for fn in files:
        path = os.path.join(hf_dir, fn)
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(n))
        mm = np.memmap(path, dtype=np.uint8, mode="c")
        for name, e in header.items():
            if name == "__metadata__":
                continue
            assert e["dtype"] == "BF16", e
            out[name] = (mm, 8 + n + e["data_offsets"][0], tuple(e["shape"]))
    return out


def dcp_rank(rank, world, hf_dir, out):
    import torch.distributed as dist
    import torch.distributed.checkpoint as dcp
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import DTensor, Shard

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{PORT}", rank=rank, world_size=world)
    mesh = init_device_mesh("cpu", (world,))
    sd = {}
    for name, (mm, at, shape) in shard_views(hf_dir).items():
        rows = shape[0]
        per = (rows + world - 1) // world  # Shard(0) splits as torch.chunk does
        r0, r1 = min(rank * per, rows), min((rank + 1) * per, rows)
        row_bytes = 2 * math.prod(shape[1:])
        # The local half as a tensor of its own storage (not a view of the whole tensor's), so
        # DCP's writer streams it as it is instead of cloning it first.
        local = torch.from_numpy(mm[at + r0 * row_bytes:at + r1 * row_bytes]).view(torch.bfloat16)
        local = local.view((r1 - r0,) + shape[1:])
        full = torch.Size(shape)
        stride = tuple(math.prod(shape[i + 1:]) for i in range(len(shape)))
        sd[name] = DTensor.from_local(local, mesh, [Shard(0)], run_check=False, shape=full, stride=stride)
    dcp.save(sd, checkpoint_id=out)
    dist.barrier()
    dist.destroy_process_group()


def make_dcp(hf_dir, out):
    import torch.multiprocessing as mp

    tmp = out + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    os.environ["USE_LIBUV"] = "0"  # the Debian build of torch has no libuv TCP store
    mp.spawn(dcp_rank, args=(2, hf_dir, tmp), nprocs=2, join=True)
    fsync_tree(tmp)
    os.replace(tmp, out)


def touch(t):
    return int(t.reshape(-1).view(torch.int64).sum())


def shard_files(d):
    with open(os.path.join(d, "model.safetensors.index.json")) as f:
        return [os.path.join(d, fn) for fn in sorted(set(json.load(f)["weight_map"].values()))]


def run_open(d):
    from safetensors import safe_open

    t0 = time.perf_counter()
    n = 0
    for path in shard_files(d):
        with safe_open(path, framework="pt") as f:
            for k in f.keys():
                s = f.get_slice(k)
                s.get_shape()
                s.get_dtype()
                n += 1
    return time.perf_counter() - t0, n


def run_load(d):
    from safetensors.torch import load_file

    t0 = time.perf_counter()
    n, value = 0, 0
    for path in shard_files(d):
        sd = load_file(path)
        for t in sd.values():
            value = (value + touch(t)) & 0xFFFFFFFFFFFFFFFF
            n += 1
        del sd, t
    return time.perf_counter() - t0, n, value


def serve():
    for line in sys.stdin:
        cmd, *args = line.split()
        try:
            if cmd == "quit":
                break
            gc.collect()
            if cmd == "open":
                s, n = run_open(args[0])
                reply = f"ok {s:.6f} {n}"
            elif cmd == "load":
                s, n, v = run_load(args[0])
                reply = f"ok {s:.6f} {n} {v}"
            elif cmd == "version":
                reply = f"ok torch {torch.__version__} threads {torch.get_num_threads()}"
            else:
                reply = f"error unknown command {cmd}"
            gc.collect()
        except Exception as e:  # the driver reports it and stops
            reply = f"error {type(e).__name__}: {e}".replace("\n", " ")
        print(reply, flush=True)


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[:1] == ["make-hf"] and len(a) == 5:
        make_hf(int(a[1]), int(a[2]), a[3], a[4])
    elif a[:1] == ["make-dcp"] and len(a) == 3:
        make_dcp(a[1], a[2])
    elif a[:1] == ["layout"] and len(a) == 2:
        lay = layout(int(a[1]))
        print(hidden_for(int(a[1])), len(lay), sum(2 * math.prod(s) for _, s in lay))
    elif a == ["serve"]:
        serve()
    else:
        sys.exit(__doc__)
