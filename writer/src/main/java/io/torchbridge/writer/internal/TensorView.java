package io.torchbridge.writer.internal;

import io.torchbridge.reader.DType;
import io.torchbridge.reader.QScheme;
import io.torchbridge.reader.TensorLayout;
import java.util.List;

/**
 * A tensor as the pickler writes it: a view of a storage, in elements, plus the bits that travel
 * in its rebuild call.
 *
 * @param location the storage's location tag ({@code cpu}, {@code cuda:0}); null for {@code cpu}
 * @param extra    null for a plain strided tensor; {@link Quantized} for a quantized one (the view
 *                 is of its integers); {@link Composite} for a sparse or nested one (then storage
 *                 is null and shape is the dense size)
 */
public record TensorView(StorageSource storage, String location, DType dtype, long[] shape, long[] stride, long offset,
                         boolean requiresGrad, boolean parameter, boolean conj, boolean neg, Object extra) {

    public TensorView(StorageSource storage, String location, DType dtype, long[] shape, long[] stride, long offset,
                      boolean requiresGrad, boolean parameter, boolean conj, boolean neg) {
        this(storage, location, dtype, shape, stride, offset, requiresGrad, parameter, conj, neg, null);
    }

    /**
     * A quantized tensor's parameters ({@code torch/_tensor.py, _reduce_ex_internal}): scale and
     * zero point per tensor, or the scales and zero points tensors (objects of the tree that the
     * pickler turns into tensors) and the axis.
     */
    public record Quantized(QScheme scheme, double scale, long zeroPoint, Object scales, Object zeroPoints, int axis) {
    }

    /**
     * A sparse or nested tensor: its layout, its components in the order its rebuild call takes
     * them (tensor objects of the tree), and for COO whether it is coalesced.
     */
    public record Composite(TensorLayout layout, List<Object> parts, boolean coalesced) {
    }
}
