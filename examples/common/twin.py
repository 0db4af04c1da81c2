"""What every Python twin does after building its model: save the weights the ways Java reads them.

Imported by examples/<name>/<name>.py (which put this folder on sys.path). Writes into OUT:
  <model>.pt                  torch.save(model.state_dict())                      (what Java loads)
  <model>.safetensors         safetensors.torch.save_model (tied weights stored once)
  <model>-shards/             huggingface_hub.save_torch_state_dict, safetensors shards + index
  <model>.io.pt               the reference inputs and Python's eval outputs, torch.save of a dict
"""
import os

import torch


def save_all(out, name, model, io, shard_size="40MB"):
    os.makedirs(out, exist_ok=True)
    sd = model.state_dict()
    torch.save(sd, os.path.join(out, name + ".pt"))
    # save_model, not save_file: save_file refuses tensors that share memory (tied weights).
    from safetensors.torch import save_model
    save_model(model, os.path.join(out, name + ".safetensors"))
    from huggingface_hub import save_torch_state_dict
    os.makedirs(os.path.join(out, name + "-shards"), exist_ok=True)
    # A copy: save_torch_state_dict drops the duplicate names of shared tensors from the dict it is given.
    save_torch_state_dict(dict(sd), os.path.join(out, name + "-shards"), max_shard_size=shard_size)
    torch.save({k: v.detach().contiguous() for k, v in io.items()}, os.path.join(out, name + ".io.pt"))
    n = sum(t.numel() for t in sd.values())
    storages = len({t.untyped_storage().data_ptr() for t in sd.values()})
    size = os.path.getsize(os.path.join(out, name + ".pt"))
    print(f"{name}: {len(sd)} state_dict entries over {storages} storages, {n} values, {name}.pt {size / 2**20:.1f} MiB")
