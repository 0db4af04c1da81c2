package io.torchbridge.reader.internal.data;

import io.torchbridge.reader.DType;

/**
 * A strided view of a storage, in elements, plus the bits that change how its bytes are read.
 *
 * <p>Its static methods are the one place where element counts and view bounds are computed, for
 * the reader ({@code TensorInfo}, {@code Shape}, the rebuild of each tensor from the pickle), the
 * writer (each saved view) and, through those, the native module. Every sum and product is exact:
 * an overflow is an {@link ArithmeticException}, which each caller turns into its own error (a
 * {@code CheckpointException} for a file, an {@code IllegalArgumentException} for a caller).
 *
 * @param swap the storage is big-endian and each element (each half of a complex) must be
 *             byte-swapped to little-endian
 */
public record Layout(DType dtype, long[] shape, long[] stride, long offset, boolean conj, boolean neg,
                     boolean swap) {

    public long numel() {
        return numel(shape);
    }

    /** Whether the bytes need rewriting on the way out (not a plain copy). */
    boolean transforms() {
        return swap || neg || (conj && dtype.family() == DType.Family.COMPLEX);
    }

    /**
     * The product of the sizes (1 for a scalar).
     *
     * @throws ArithmeticException if it overflows 64 bits (even when a later size is 0, as
     *                             before: the product is taken in order)
     */
    public static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /**
     * The elements of the storage a view can reach from its offset: 0 for an empty view, else
     * {@code 1 + sum((size - 1) * stride)}. Sizes and strides are taken as non-negative (PyTorch
     * has no negative strides); {@link #fits} checks that.
     *
     * @throws ArithmeticException if the count or the sum overflows 64 bits
     */
    public static long extent(long[] shape, long[] stride) {
        if (numel(shape) == 0) {
            return 0;
        }
        long e = 1;
        for (int i = 0; i < shape.length; i++) {
            e = Math.addExact(e, Math.multiplyExact(shape[i] - 1, stride[i]));
        }
        return e;
    }

    /**
     * The storage elements a view at {@code offset} needs: {@code offset + extent}, or 0 for an
     * empty view, which fits any storage (as in ATen's {@code checkInBoundsForStorage}: a tensor
     * with no elements may sit anywhere).
     *
     * @throws ArithmeticException if that overflows 64 bits
     */
    public static long storageNeeded(long[] shape, long[] stride, long offset) {
        long extent = extent(shape, stride);
        return extent == 0 ? 0 : Math.addExact(offset, extent);
    }

    /**
     * The bounds check: whether every element of the view lies inside a storage of {@code
     * available} elements. False too for unequal ranks, a negative size, stride or offset, or a
     * view whose reach overflows 64 bits. Callers that explain a refusal ask {@link
     * #storageNeeded} for the number.
     */
    public static boolean fits(long[] shape, long[] stride, long offset, long available) {
        if (shape.length != stride.length || offset < 0) {
            return false;
        }
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] < 0 || stride[i] < 0) {
                return false;
            }
        }
        try {
            return storageNeeded(shape, stride, offset) <= available;
        } catch (ArithmeticException e) {
            return false;
        }
    }

    /**
     * Row-major contiguous: the values are one run of the storage from the offset. Size-1
     * dimensions may have any stride, and the check stops at a size-0 dimension (inner to outer),
     * since nothing outside it is ever read.
     */
    public static boolean isContiguous(long[] shape, long[] stride) {
        long expected = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            long size = shape[i];
            if (size == 0) {
                return true;
            }
            if (size != 1 && stride[i] != expected) {
                return false;
            }
            expected = Math.multiplyExact(expected, size);
        }
        return true;
    }
}
