package io.torchbridge.reader;

/** The container a checkpoint file uses. */
public enum Format {
    /** The zip archive torch.save writes since PyTorch 1.6. */
    ZIP("zip"),
    /** The pre-1.6 stream of consecutive pickles ({@code _use_new_zipfile_serialization=False}). */
    LEGACY("legacy"),
    /** The tar archive of torch before 0.1.10 (members sys_info, pickle, storages, tensors). */
    TAR("tar"),
    /**
     * A TorchScript archive ({@code torch.jit.save}): a zip whose {@code data.pkl} holds the module
     * object and whose {@code code/} declares which attributes are parameters and buffers; or the
     * torch 1.0-1.2 layout ({@code model.json}, {@code tensors/N}). Read as its {@code state_dict()}.
     */
    TORCHSCRIPT("torchscript"),
    /**
     * A safetensors file: a JSON header naming each tensor's dtype, shape and byte range, then the
     * data. Read as a dict of its tensors in file order, with the header's {@code __metadata__}
     * in {@link Checkpoint#metadata()}.
     */
    SAFETENSORS("safetensors"),
    /**
     * A Hugging Face sharded checkpoint: an {@code *.index.json} whose {@code weight_map} names
     * the shard file of each tensor, read as one dict of every tensor across the shards.
     */
    SHARDED("sharded"),
    /**
     * A torch.distributed.checkpoint directory: a {@code .metadata} pickle and {@code .distcp}
     * data files holding each tensor in chunks (maybe of several ranks). Read as what
     * {@code dcp_to_torch_save} saves: the nested state dict.
     */
    DCP("dcp"),
    /** A NumPy array file ({@code numpy.save}): one array, the checkpoint's root, named "". */
    NPY("npy"),
    /** A NumPy archive ({@code numpy.savez}): a zip of {@code NAME.npy} records, a dict of arrays by NAME. */
    NPZ("npz");

    private final String label;

    Format(String label) {
        this.label = label;
    }

    /** {@return the short name the CLI prints} */
    public String label() {
        return label;
    }
}
