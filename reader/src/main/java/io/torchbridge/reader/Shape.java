package io.torchbridge.reader;

import io.torchbridge.reader.internal.data.Layout;
import java.util.Arrays;

/**
 * An immutable list of per-dimension sizes (or strides), as in {@code torch.Size}.
 */
public final class Shape {
    private static final Shape SCALAR = new Shape(new long[0]);
    private final long[] dims;

    private Shape(long[] dims) {
        this.dims = dims;
    }

    /**
     * {@return a shape from its dimensions; the array is copied}
     *
     * @param dims the sizes; none for a scalar
     */
    public static Shape of(long... dims) {
        return dims.length == 0 ? SCALAR : new Shape(dims.clone());
    }

    /** {@return the number of dimensions; 0 for a scalar} */
    public int rank() {
        return dims.length;
    }

    /**
     * {@return the size of dimension {@code i}}
     *
     * @param i the dimension, from 0
     * @throws ArrayIndexOutOfBoundsException {@code i} is not below {@link #rank()}
     */
    public long dim(int i) {
        return dims[i];
    }

    /** {@return a copy of the dimensions} */
    public long[] toArray() {
        return dims.clone();
    }

    /** {@return the product of the dimensions (1 for a scalar), checked for overflow} */
    public long numel() {
        return Layout.numel(dims);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Shape s && Arrays.equals(dims, s.dims);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(dims);
    }

    /** Python's spelling: {@code [2, 3]}. */
    @Override
    public String toString() {
        return Arrays.toString(dims);
    }
}
