package io.torchbridge.reader.internal.pickle;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.DType;
import io.torchbridge.reader.QScheme;
import io.torchbridge.reader.TensorLayout;
import java.util.Map;

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
    /** Strided, or a sparse or nested tensor whose {@link #parts} hold its data. */
    public TensorLayout layout = TensorLayout.STRIDED;
    /** A quantized tensor's scheme and parameters; null for any other. */
    public Quant quant;
    /**
     * A sparse or nested tensor's components by PyTorch's names ({@code indices}, {@code values},
     * {@code crow_indices}, ...), in the order its rebuild call gives them; null when strided.
     * Such a spec's {@link #storage} and {@link #dtype} are its values' and its shape is the dense
     * one (row-major strides, offset 0).
     */
    public Map<String, TensorSpec> parts;
    /** A sparse COO tensor's {@code is_coalesced()} as saved. */
    public boolean coalesced;

    /**
     * A quantized tensor's parameters: {@code scale} and {@code zeroPoint} per tensor, or
     * {@code scales}, {@code zeroPoints} (1-d tensors) and {@code axis} per channel.
     */
    public record Quant(QScheme scheme, double scale, long zeroPoint, TensorSpec scales, TensorSpec zeroPoints,
                        int axis) {
    }
    /** What the value tree made of this spec, once it has: a tensor reached twice is made once. */
    public Object frozen;
    /**
     * Where the values lie in pieces of several storages (a DCP tensor of several chunks), null
     * otherwise; such a spec's {@link #storage} has no region, its view is contiguous from 0.
     */
    public io.torchbridge.reader.internal.data.Assembly assembly;

    /**
     * A contiguous tensor of {@code shape} whose values {@code assembly} gathers; {@code storage}
     * names what stands for its storage (no region: the pieces have theirs).
     */
    public static TensorSpec assembled(StorageRef storage, DType dtype, long[] shape,
                                       io.torchbridge.reader.internal.data.Assembly assembly) {
        long[] stride = new long[shape.length];
        long s = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            stride[d] = s;
            s = Math.multiplyExact(s, Math.max(1, shape[d]));
        }
        TensorSpec t = new TensorSpec(storage, dtype, shape.clone(), stride, 0, null);
        t.assembly = assembly;
        return t;
    }

    /**
     * A dense, row-major tensor filling {@code storage} from its start, as a container without a
     * pickle (safetensors) describes one; the caller has checked that its bytes fit the storage.
     */
    public static TensorSpec contiguous(StorageRef storage, DType dtype, long[] shape) {
        long[] stride = new long[shape.length];
        long acc = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            stride[i] = acc;
            acc = Math.multiplyExact(acc, Math.max(shape[i], 1)); // the caller checked this fits
        }
        return new TensorSpec(storage, dtype, shape.clone(), stride, 0, null);
    }

    /**
     * A strided tensor a container format describes outside any pickle (a {@code .npy} array); its
     * caller has checked that the view fits its storage.
     */
    public static TensorSpec strided(StorageRef storage, DType dtype, long[] shape, long[] stride, long offset) {
        return new TensorSpec(storage, dtype, shape.clone(), stride.clone(), offset, null);
    }

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
