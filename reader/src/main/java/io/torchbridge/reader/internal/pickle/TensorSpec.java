package io.torchbridge.reader.internal.pickle;

import io.torchbridge.reader.DType;

/** A tensor as a rebuild call described it; checked against its storage when made. */
public final class TensorSpec {
    public final StorageRef storage;
    public final DType dtype;
    public final long[] shape;
    public final long[] stride;
    public final long offset;
    public boolean requiresGrad;
    public boolean parameter;
    public boolean conj;
    public boolean neg;

    TensorSpec(StorageRef storage, DType dtype, long[] shape, long[] stride, long offset) {
        this.storage = storage;
        this.dtype = dtype;
        this.shape = shape;
        this.stride = stride;
        this.offset = offset;
    }
}
