package io.torchbridge.writer;

import io.torchbridge.reader.DType;
import io.torchbridge.reader.Shape;
import io.torchbridge.reader.internal.data.Layout;
import io.torchbridge.writer.internal.Sources;
import io.torchbridge.writer.internal.StorageSource;
import io.torchbridge.writer.internal.TensorView;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * A tensor made in Java, to be saved: a view (shape, stride, storage offset) of a storage that
 * holds Java data. The data is not copied: the array or buffer is read when the checkpoint is
 * written, so leave it unchanged until then. Tensors made with {@link #view} share their base's
 * storage and are written as one storage, as PyTorch writes views. Immutable.
 */
public final class NewTensor {
    private final StorageSource storage;
    private final DType dtype;
    private final long[] shape;
    private final long[] stride;
    private final long offset;
    private final boolean requiresGrad;
    private final boolean parameter;
    private final boolean conj;
    private final boolean neg;
    private final String location;

    private NewTensor(StorageSource storage, DType dtype, long[] shape, long[] stride, long offset,
                      boolean requiresGrad, boolean parameter, boolean conj, boolean neg) {
        this(storage, dtype, shape, stride, offset, requiresGrad, parameter, conj, neg, null);
    }

    private NewTensor(StorageSource storage, DType dtype, long[] shape, long[] stride, long offset,
                      boolean requiresGrad, boolean parameter, boolean conj, boolean neg, String location) {
        this.storage = storage;
        this.dtype = dtype;
        this.shape = shape;
        this.stride = stride;
        this.offset = offset;
        this.requiresGrad = requiresGrad;
        this.parameter = parameter;
        this.conj = conj;
        this.neg = neg;
        this.location = location;
        for (long s : shape) {
            if (s < 0) {
                throw new IllegalArgumentException("negative size in shape " + Arrays.toString(shape));
            }
        }
    }

    private static NewTensor contiguous(StorageSource s, DType dtype, long[] shape) {
        long numel = Layout.numel(shape);
        long have = s.nbytes() / dtype.itemSize();
        if (numel != have || s.nbytes() % dtype.itemSize() != 0) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has " + numel
                    + " elements but the data holds " + have + " " + dtype + " elements");
        }
        return new NewTensor(s, dtype, shape.clone(), rowMajor(shape), 0, false, false, false, false);
    }

    /**
     * {@return a float32 tensor of {@code values} in row-major order}
     *
     * @param values the elements, row-major; not copied, read at save time
     * @param shape  the sizes; their product must equal {@code values.length} (none for a scalar)
     * @throws IllegalArgumentException a size is negative or the shape does not fit the values
     */
    public static NewTensor of(float[] values, long... shape) {
        return contiguous(Sources.floats(values), DType.FLOAT32, shape);
    }

    /**
     * {@return a float64 tensor}
     *
     * @param values the elements, row-major; not copied, read at save time
     * @param shape  the sizes; their product must equal {@code values.length} (none for a scalar)
     */
    public static NewTensor of(double[] values, long... shape) {
        return contiguous(Sources.doubles(values), DType.FLOAT64, shape);
    }

    /**
     * {@return an int64 tensor}
     *
     * @param values the elements, row-major; not copied, read at save time
     * @param shape  the sizes; their product must equal {@code values.length} (none for a scalar)
     */
    public static NewTensor of(long[] values, long... shape) {
        return contiguous(Sources.longs(values, DType.INT64), DType.INT64, shape);
    }

    /**
     * {@return an int32 tensor}
     *
     * @param values the elements, row-major; not copied, read at save time
     * @param shape  the sizes; their product must equal {@code values.length} (none for a scalar)
     */
    public static NewTensor of(int[] values, long... shape) {
        return contiguous(Sources.ints(values, DType.INT32), DType.INT32, shape);
    }

    /**
     * {@return an int16 tensor}
     *
     * @param values the elements, row-major; not copied, read at save time
     * @param shape  the sizes; their product must equal {@code values.length} (none for a scalar)
     */
    public static NewTensor of(short[] values, long... shape) {
        return contiguous(Sources.shorts(values, DType.INT16), DType.INT16, shape);
    }

    /**
     * {@return a bool tensor}
     *
     * @param values the elements, row-major; not copied, read at save time
     * @param shape  the sizes; their product must equal {@code values.length} (none for a scalar)
     */
    public static NewTensor of(boolean[] values, long... shape) {
        return contiguous(Sources.booleans(values), DType.BOOL, shape);
    }

    /**
     * {@return a tensor of any dtype from its raw little-endian element bytes (int8 and uint8 values as
     * they are; float16, bfloat16, float8 as their bit patterns; complex as re, im pairs)}
     *
     * @param raw   the element bytes, row-major; not copied, read at save time
     * @param dtype the element type; {@code raw.length} must be a multiple of its item size
     * @param shape the sizes; their product must equal the number of elements in {@code raw}
     */
    public static NewTensor ofBytes(byte[] raw, DType dtype, long... shape) {
        return contiguous(Sources.bytes(raw, dtype), dtype, shape);
    }

    /**
     * Like {@link #ofBytes}, from a buffer's remaining bytes, which are read at save time, not copied.
     *
     * @param raw   the element bytes, little-endian, from its position to its limit
     * @param dtype the element type
     * @param shape the sizes; their product must equal the number of elements in {@code raw}
     * @return the tensor
     */
    public static NewTensor ofBuffer(ByteBuffer raw, DType dtype, long... shape) {
        return contiguous(Sources.buffer(raw, dtype), dtype, shape);
    }

    /**
     * {@return a tensor whose raw little-endian bytes are the concatenation of {@code chunks} (each from its
     * position to its limit): for data over 2 GiB, such as regions of a memory-mapped file} Not
     * copied; read at save time.
     *
     * @param chunks the buffers, in order; their positions and limits are read at save time
     * @param dtype  the element type
     * @param shape  the sizes; their product must equal the total number of elements
     */
    public static NewTensor ofChunks(java.util.List<ByteBuffer> chunks, DType dtype, long... shape) {
        return contiguous(Sources.chunks(chunks, dtype), dtype, shape);
    }

    /**
     * {@return a view of this tensor's storage: the same data, another shape, stride and offset (in elements)}
     *
     * @param storageOffset the first element of the view in the storage, in elements
     * @param shape         the view's sizes
     * @param stride        the view's strides, in elements
     */
    public NewTensor view(long storageOffset, long[] shape, long[] stride) {
        if (shape.length != stride.length) {
            throw new IllegalArgumentException("shape and stride differ in rank");
        }
        return new NewTensor(storage, dtype, shape.clone(), stride.clone(), storageOffset, false, false, conj, neg,
                location);
    }

    /**
     * {@return a copy of this tensor, saved as an {@code nn.Parameter}}
     *
     * @param requiresGrad the parameter's {@code requires_grad}
     */
    public NewTensor asParameter(boolean requiresGrad) {
        return new NewTensor(storage, dtype, shape, stride, offset, requiresGrad, true, conj, neg, location);
    }

    /**
     * {@return a copy of this tensor with {@code requires_grad} set as given (a plain tensor stays one)}
     *
     * @param rg the saved {@code requires_grad}
     */
    public NewTensor withRequiresGrad(boolean rg) {
        return new NewTensor(storage, dtype, shape, stride, offset, rg, parameter, conj, neg, location);
    }

    /**
     * Sets the conjugate bit: the storage holds the un-conjugated values (complex only).
     *
     * @param c whether the saved tensor has {@code is_conj()} set
     * @return a copy of this tensor with the bit set as given
     */
    public NewTensor withConj(boolean c) {
        return new NewTensor(storage, dtype, shape, stride, offset, requiresGrad, parameter, c, neg, location);
    }

    /**
     * Sets the negative bit: the storage holds the un-negated values.
     *
     * @param n whether the saved tensor has {@code is_neg()} set
     * @return a copy of this tensor with the bit set as given
     */
    public NewTensor withNeg(boolean n) {
        return new NewTensor(storage, dtype, shape, stride, offset, requiresGrad, parameter, conj, n, location);
    }

    /**
     * {@return a copy of this tensor with {@code tag} as the location saved with the storage, as {@code torch.save} writes a CUDA tensor's
     * ({@code cuda:0}); {@code torch.load} then places it there unless told otherwise by its
     * {@code map_location}} The default, {@code null}, is {@code cpu}. Tensors that share a storage
     * should carry the same tag.
     *
     * @param tag the location, such as {@code cuda:0}; {@code null} for {@code cpu}
     */
    public NewTensor withLocation(String tag) {
        return new NewTensor(storage, dtype, shape, stride, offset, requiresGrad, parameter, conj, neg, tag);
    }

    /** {@return the saved location tag; {@code null} means {@code cpu}} */
    public String location() {
        return location;
    }

    /** {@return the element type} */
    public DType dtype() {
        return dtype;
    }

    /** {@return the sizes} */
    public Shape shape() {
        return Shape.of(shape);
    }

    /** {@return the strides, in elements} */
    public Shape stride() {
        return Shape.of(stride);
    }

    /** {@return the offset of the first element in the storage, in elements} */
    public long storageOffset() {
        return offset;
    }

    TensorView toView() {
        return new TensorView(storage, location, dtype, shape, stride, offset, requiresGrad, parameter, conj, neg);
    }

    static long[] rowMajor(long[] shape) {
        long[] s = new long[shape.length];
        long acc = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            s[i] = acc;
            acc = Math.multiplyExact(acc, Math.max(shape[i], 1));
        }
        return s;
    }
}
