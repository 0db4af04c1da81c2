package io.torchbridge.reader.internal.format;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.Format;
import java.nio.ByteOrder;

/**
 * A checkpoint's pickle, unpickled but not yet turned into public values.
 *
 * <p>Not a record: the raw root is handed over once ({@link #takeRoot()}), so that it does not
 * stay reachable from here while the public tree is built from it (for 200k tensors the raw tree
 * is tens of megabytes).
 */
public final class Unpickled {
    private final Format format;
    private Object root;
    private boolean taken;
    private final int version;
    private final ByteOrder byteOrder;
    private final CheckpointException unreadableTensor;
    private java.util.List<java.util.Map.Entry<String, Object>> names;
    private java.util.List<String> modules;
    private java.util.Map<String, String> metadata = java.util.Map.of();

    /**
     * @param root      the raw root as the pickle reader leaves it (raw containers, tensor specs)
     * @param version   the file format version the container declares
     * @param byteOrder the byte order of the stored tensor data
     * @param unreadableTensor the refusal of the first tensor that cannot be read from its storage,
     *                  or null; the value tree refuses such a tensor under its name where it reaches it
     */
    public Unpickled(Format format, Object root, int version, ByteOrder byteOrder,
                     CheckpointException unreadableTensor) {
        this.format = format;
        this.root = root;
        this.version = version;
        this.byteOrder = byteOrder;
        this.unreadableTensor = unreadableTensor;
    }

    /**
     * Where the container, not the object tree, names the tensors (a TorchScript archive's
     * {@code state_dict()}): each name with its raw tensor, in order; the same tensor may carry
     * several names. Null where the tree's paths are the names.
     */
    public java.util.List<java.util.Map.Entry<String, Object>> names() {
        return names;
    }

    /**
     * With {@link #names()}: the path of every module the names were found in, in the walk's
     * (pre-)order, "" for the root; a state_dict's {@code _metadata} has one entry each.
     */
    public java.util.List<String> modules() {
        return modules;
    }

    Unpickled withNames(java.util.List<java.util.Map.Entry<String, Object>> names, java.util.List<String> modules) {
        this.names = names;
        this.modules = modules;
        return this;
    }

    /** The container's string metadata (a safetensors header's {@code __metadata__}, a shard index's {@code metadata}); empty where it has none. */
    public java.util.Map<String, String> metadata() {
        return metadata;
    }

    Unpickled withMetadata(java.util.Map<String, String> metadata) {
        this.metadata = metadata;
        return this;
    }

    public Format format() {
        return format;
    }

    /** The raw root, handed over once: afterwards this object no longer holds it. */
    public Object takeRoot() {
        if (taken) {
            throw new IllegalStateException("the root was taken already");
        }
        taken = true;
        Object r = root;
        root = null;
        return r;
    }

    public int version() {
        return version;
    }

    public ByteOrder byteOrder() {
        return byteOrder;
    }

    public CheckpointException unreadableTensor() {
        return unreadableTensor;
    }

    /**
     * Throws {@link #unreadableTensor()}, if any: for a caller that builds no tree, and after a
     * tree is built for a tensor it never reached (PyTorch runs every rebuild, so refuses it too).
     */
    public void refuseUnreadableTensors() throws CheckpointException {
        if (unreadableTensor != null) {
            throw unreadableTensor;
        }
    }
}
