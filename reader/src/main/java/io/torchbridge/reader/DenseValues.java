package io.torchbridge.reader;

import io.torchbridge.reader.internal.data.Layout;
import io.torchbridge.reader.internal.data.LogicalBytes;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.BitSet;
import java.util.function.Consumer;

/**
 * The dense values of sparse and nested tensors, and the real values of quantized ones. The
 * component shapes and index ranges were checked when the checkpoint was opened (as torch 2.14
 * checks them on load), so the arithmetic here stays inside the dense array.
 */
final class DenseValues {
    private DenseValues() {
    }

    /** Streams {@code t}'s dense values (row-major, little-endian); the caller holds the file's lease. */
    static void stream(Tensor t, Consumer<ByteBuffer> sink) {
        if (t.layout() == TensorLayout.NESTED) {
            nested(t, sink);
            return;
        }
        byte[] dense = new byte[t.arrayLength(t.info().nbytes())];
        if (t.layout() == TensorLayout.SPARSE_COO) {
            coo(t, dense);
        } else {
            compressed(t, dense);
        }
        sink.accept(ByteBuffer.wrap(dense).order(ByteOrder.LITTLE_ENDIAN).asReadOnlyBuffer());
    }

    /** Each component's values in row-major order, one after the other. */
    private static void nested(Tensor t, Consumer<ByteBuffer> sink) {
        Tensor buffer = t.components().get("buffer");
        long[] sizes = t.components().get("sizes").toLongArray();
        long[] strides = t.components().get("strides").toLongArray();
        long[] offsets = t.components().get("storage_offsets").toLongArray();
        Layout b = buffer.stridedLayout();
        long step = b.stride().length == 1 ? b.stride()[0] : 1;
        int n = offsets.length;
        int rank = n == 0 ? 0 : sizes.length / n;
        for (int i = 0; i < n; i++) {
            long[] shape = java.util.Arrays.copyOfRange(sizes, i * rank, (i + 1) * rank);
            long[] stride = java.util.Arrays.copyOfRange(strides, i * rank, (i + 1) * rank);
            for (int d = 0; d < rank; d++) {
                stride[d] = Math.multiplyExact(stride[d], step);
            }
            long offset = Math.addExact(b.offset(), Math.multiplyExact(offsets[i], step));
            Layout c = new Layout(b.dtype(), shape, stride, offset, b.conj(), b.neg(), b.swap());
            LogicalBytes.stream(buffer.region(), c, sink::accept);
        }
    }

    private static void coo(Tensor t, byte[] dense) {
        Tensor indicesT = t.components().get("indices");
        Tensor valuesT = t.components().get("values");
        long[] indices = indicesT.toLongArray();
        byte[] values = valuesT.toByteArray();
        long[] size = t.shape().toArray();
        int sparseDim = (int) indicesT.shape().toArray()[0];
        int nnz = (int) indicesT.shape().toArray()[1];
        int slab = nnz == 0 ? 0 : values.length / nnz;
        BitSet written = t.isCoalesced() ? null : new BitSet();
        for (int j = 0; j < nnz; j++) {
            long linear = 0;
            for (int d = 0; d < sparseDim; d++) {
                linear = linear * size[d] + indices[d * nnz + j];
            }
            int at = (int) (linear * slab);
            if (written != null && written.get((int) linear)) {
                add(t.dtype(), dense, at, values, j * slab, slab); // duplicates sum, as to_dense() does
            } else {
                System.arraycopy(values, j * slab, dense, at, slab);
                if (written != null) {
                    written.set((int) linear);
                }
            }
        }
    }

    private static void compressed(Tensor t, byte[] dense) {
        TensorLayout layout = t.layout();
        boolean columns = layout.compressesColumns();
        Tensor valuesT = t.components().get("values");
        long[] outer = t.components().get(columns ? "ccol_indices" : "crow_indices").toLongArray();
        long[] inner = t.components().get(columns ? "row_indices" : "col_indices").toLongArray();
        byte[] values = valuesT.toByteArray();
        long[] vshape = valuesT.shape().toArray();
        long[] size = t.shape().toArray();
        boolean blocked = layout.isBlocked();
        int br = blocked ? (int) vshape[1] : 1;
        int bc = blocked ? (int) vshape[2] : 1;
        int nnz = (int) vshape[0];
        int item = t.dtype().itemSize();
        long denseSlab = 1;
        for (int d = 2; d < size.length; d++) {
            denseSlab *= size[d];
        }
        int slabBytes = (int) (denseSlab * item);
        int blockBytes = nnz == 0 ? 0 : values.length / nnz;
        for (int o = 0; o + 1 < outer.length; o++) {
            for (long k = outer[o]; k < outer[o + 1]; k++) {
                long p = inner[(int) k];
                long blockRow = columns ? p : o;
                long blockCol = columns ? o : p;
                for (int i = 0; i < br; i++) {
                    for (int j = 0; j < bc; j++) {
                        long row = blockRow * br + i;
                        long col = blockCol * bc + j;
                        int at = (int) ((row * size[1] + col) * slabBytes);
                        int from = (int) (k * blockBytes + ((long) i * bc + j) * slabBytes);
                        System.arraycopy(values, from, dense, at, slabBytes);
                    }
                }
            }
        }
    }

    /** {@code dst[at..] += src[from..]} over {@code len} bytes of {@code dtype} elements, little-endian. */
    private static void add(DType dtype, byte[] dst, int at, byte[] src, int from, int len) {
        ByteBuffer d = ByteBuffer.wrap(dst).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer s = ByteBuffer.wrap(src).order(ByteOrder.LITTLE_ENDIAN);
        int item = dtype.itemSize();
        for (int off = 0; off < len; off += item) {
            int a = at + off;
            int b = from + off;
            switch (dtype) {
                case FLOAT32 -> d.putFloat(a, d.getFloat(a) + s.getFloat(b));
                case FLOAT64 -> d.putDouble(a, d.getDouble(a) + s.getDouble(b));
                case COMPLEX64 -> {
                    d.putFloat(a, d.getFloat(a) + s.getFloat(b));
                    d.putFloat(a + 4, d.getFloat(a + 4) + s.getFloat(b + 4));
                }
                case COMPLEX128 -> {
                    d.putDouble(a, d.getDouble(a) + s.getDouble(b));
                    d.putDouble(a + 8, d.getDouble(a + 8) + s.getDouble(b + 8));
                }
                case INT64, UINT64 -> d.putLong(a, d.getLong(a) + s.getLong(b));
                case INT32, UINT32 -> d.putInt(a, d.getInt(a) + s.getInt(b));
                case INT16, UINT16 -> d.putShort(a, (short) (d.getShort(a) + s.getShort(b)));
                case INT8, UINT8 -> d.put(a, (byte) (d.get(a) + s.get(b)));
                case BOOL -> d.put(a, (byte) ((d.get(a) | s.get(b)) != 0 ? 1 : 0));
                default -> throw new IllegalStateException("an uncoalesced " + dtype + " sparse tensor with "
                        + "duplicate indices: summing " + dtype + " values is not supported; coalesce it in PyTorch");
            }
        }
    }

    // --- quantized ---------------------------------------------------------------------------

    static float[] dequantize(Tensor t, Quantization q) {
        int n = t.arrayLength(t.numel());
        long[] ints = integers(t, n);
        float[] out = new float[n];
        if (q instanceof Quantization.PerTensor p) {
            float scale = (float) p.scale();
            for (int i = 0; i < n; i++) {
                out[i] = (float) (ints[i] - p.zeroPoint()) * scale;
            }
            return out;
        }
        Quantization.PerChannel p = (Quantization.PerChannel) q;
        long[] shape = t.shape().toArray();
        long inner = 1;
        for (int d = p.axis() + 1; d < shape.length; d++) {
            inner *= shape[d];
        }
        long channels = shape[p.axis()];
        double[] scales = p.scales().toDoubleArray();
        // float zero points (per_channel_affine_float_qparams) subtract like integer ones: torch's
        // dequantize gives (q - zero_point) * scale for every scheme (checked against torch 2.14)
        double[] zeroPoints = p.zeroPoints().dtype().family() == DType.Family.FLOAT
                ? p.zeroPoints().toDoubleArray()
                : java.util.Arrays.stream(p.zeroPoints().toLongArray()).asDoubleStream().toArray();
        for (int i = 0; i < n; i++) {
            int c = (int) ((i / inner) % channels);
            out[i] = (float) (ints[i] - zeroPoints[c]) * (float) scales[c];
        }
        return out;
    }

    /** Each element's integer, row-major: unpacked from the bytes for quint4x2 / quint2x4. */
    private static long[] integers(Tensor t, int n) {
        int per = t.dtype().elementsPerByte();
        if (per == 1) {
            return t.toLongArray();
        }
        byte[] packed = t.toByteArray();
        int bits = 8 / per;
        int mask = (1 << bits) - 1;
        long[] out = new long[n];
        for (int i = 0; i < n; i++) {
            out[i] = (packed[i / per] >> (bits * (i % per))) & mask;
        }
        return out;
    }
}
