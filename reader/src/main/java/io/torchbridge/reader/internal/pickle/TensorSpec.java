package io.torchbridge.reader.internal.pickle;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.DType;

/**
 * A tensor as a rebuild call described it. A spec whose view cannot be read from its storage
 * carries its {@link #refusal} instead of being refused on the spot: the error is made where the
 * pickle built the tensor (so it has that record and offset) but thrown where the value tree
 * names the tensor, so that it names it too. Such a spec never becomes a public tensor.
 */
public final class TensorSpec {
    public final StorageRef storage;
    public final DType dtype;
    public final long[] shape;
    public final long[] stride;
    public final long offset;
    /** Why the view cannot be read (out of bounds, another dtype, ...), or null when it can. */
    public final CheckpointException refusal;
    public boolean requiresGrad;
    public boolean parameter;
    public boolean conj;
    public boolean neg;
    /** What the value tree made of this spec, once it has: a tensor reached twice is made once. */
    public Object frozen;

    TensorSpec(StorageRef storage, DType dtype, long[] shape, long[] stride, long offset,
               CheckpointException refusal) {
        this.storage = storage;
        this.dtype = dtype;
        this.shape = shape;
        this.stride = stride;
        this.offset = offset;
        this.refusal = refusal;
    }
}
