package io.torchbridge.reader.internal.data;

import io.torchbridge.reader.DType;

/**
 * A strided view of a storage, in elements, plus the bits that change how its bytes are read.
 *
 * @param swap the storage is big-endian and each element (each half of a complex) must be
 *             byte-swapped to little-endian
 */
public record Layout(DType dtype, long[] shape, long[] stride, long offset, boolean conj, boolean neg,
                     boolean swap) {

    public long numel() {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** Whether the bytes need rewriting on the way out (not a plain copy). */
    boolean transforms() {
        return swap || neg || (conj && dtype.family() == DType.Family.COMPLEX);
    }
}
