package io.torchbridge.reader;

import io.torchbridge.reader.internal.data.Layout;
import java.util.Objects;

/**
 * Everything known about a tensor without touching its data.
 *
 * @param dtype         element type
 * @param shape         sizes
 * @param stride        strides, in elements (0 for an expanded dimension)
 * @param storageOffset offset of the first element in the storage, in elements
 * @param requiresGrad  as saved
 * @param parameter     saved as an {@code nn.Parameter}
 * @param conj          the conjugate bit: the storage holds the un-conjugated values
 * @param neg           the negative bit: the storage holds the un-negated values
 * @param storage       the storage it views
 * @param layout        {@link TensorLayout#STRIDED}, or a sparse or nested layout: then
 *                      {@code shape} is the dense shape (for a nested tensor, the total element
 *                      count of its components, 1-d), {@code stride} and {@code storageOffset}
 *                      those of its dense copy (row-major, 0), {@code storage} its values'
 *                      storage, and {@link Tensor#components()} its parts
 */
public record TensorInfo(DType dtype, Shape shape, Shape stride, long storageOffset,
                         boolean requiresGrad, boolean parameter, boolean conj, boolean neg,
                         StorageInfo storage, TensorLayout layout) {
    /**
     * A strided tensor's info.
     *
     * @param dtype         element type
     * @param shape         sizes
     * @param stride        strides, in elements
     * @param storageOffset offset of the first element in the storage, in elements
     * @param requiresGrad  as saved
     * @param parameter     saved as an {@code nn.Parameter}
     * @param conj          the conjugate bit
     * @param neg           the negative bit
     * @param storage       the storage it views
     */
    public TensorInfo(DType dtype, Shape shape, Shape stride, long storageOffset, boolean requiresGrad,
                      boolean parameter, boolean conj, boolean neg, StorageInfo storage) {
        this(dtype, shape, stride, storageOffset, requiresGrad, parameter, conj, neg, storage, TensorLayout.STRIDED);
    }

    /**
     * Checks that nothing is null and that shape and stride have the same rank.
     *
     * @param dtype         element type
     * @param shape         sizes
     * @param stride        strides, in elements
     * @param storageOffset offset of the first element in the storage, in elements
     * @param requiresGrad  as saved
     * @param parameter     saved as an {@code nn.Parameter}
     * @param conj          the conjugate bit
     * @param neg           the negative bit
     * @param storage       the storage it views
     * @param layout        strided, sparse or nested
     * @throws IllegalArgumentException shape and stride differ in rank
     */
    public TensorInfo {
        Objects.requireNonNull(layout, "layout");
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(shape, "shape");
        Objects.requireNonNull(stride, "stride");
        Objects.requireNonNull(storage, "storage");
        if (shape.rank() != stride.rank()) {
            throw new IllegalArgumentException("shape " + shape + " and stride " + stride + " differ in rank");
        }
    }

    /** {@return number of elements} */
    public long numel() {
        return shape.numel();
    }

    /**
     * {@return bytes of the logical values ({@code numel * itemSize}; packed quantized dtypes per
     * {@link DType#bytesFor}; a sparse tensor's dense values)}
     */
    public long nbytes() {
        return dtype.bytesFor(numel());
    }

    /** {@return whether it is row-major contiguous: the values are one run of the storage from the offset} */
    public boolean isContiguous() {
        return Layout.isContiguous(shape.toArray(), stride.toArray());
    }

    /**
     * {@return the elements of the storage the tensor can reach, from {@link #storageOffset()}: 0 for an
     * empty tensor, else {@code 1 + sum((size - 1) * stride)}}
     */
    public long extent() {
        return Layout.extent(shape.toArray(), stride.toArray());
    }
}
