package io.torchbridge.reader;

import io.torchbridge.reader.internal.data.Layout;
import io.torchbridge.reader.internal.data.LogicalBytes;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.function.Consumer;

/**
 * The dense values of sparse and nested tensors, and the real values of quantized ones. The
 * component shapes and index ranges were checked when the checkpoint was opened (as torch 2.14
 * checks them on load), so the arithmetic here stays inside the dense array.
 */
final class DenseValues {
    private DenseValues() {
    }

    /** Zeros streamed between stored values; shared, never written. */
    private static final ByteBuffer ZEROS = ByteBuffer.allocate(1 << 16).asReadOnlyBuffer();

    /**
     * Streams {@code t}'s dense values (row-major, little-endian); the caller holds the file's
     * lease. A sparse tensor's dense form can be far larger than its file (that is the point of
     * it), so it is never built in memory: the stored values are ordered by their dense position
     * (one long and one int per stored run) and the gaps between them stream as zeros.
     */
    static void stream(Tensor t, Consumer<ByteBuffer> sink) {
        if (t.layout() == TensorLayout.NESTED) {
            nested(t, sink);
            return;
        }
        Runs runs = t.layout() == TensorLayout.SPARSE_COO ? coo(t) : compressed(t);
        int item = t.dtype().itemSize();
        long total = t.info().nbytes();
        long at = 0; // bytes streamed so far
        Integer[] order = new Integer[runs.count];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        long[] pos = runs.pos;
        java.util.Arrays.sort(order, (a, b) -> Long.compare(pos[a], pos[b])); // stable: duplicates keep file order
        byte[] run = new byte[runs.runBytes];
        for (int k = 0; k < order.length; ) {
            long p = Math.multiplyExact(pos[order[k]], (long) item);
            System.arraycopy(runs.values, runs.src[order[k]], run, 0, runs.runBytes);
            int next = k + 1;
            while (next < order.length && pos[order[next]] == pos[order[k]]) {
                add(t.dtype(), run, 0, runs.values, runs.src[order[next]], runs.runBytes); // to_dense() sums duplicates
                next++;
            }
            zeros(sink, p - at);
            sink.accept(ByteBuffer.wrap(run).order(ByteOrder.LITTLE_ENDIAN).asReadOnlyBuffer());
            at = p + runs.runBytes;
            k = next;
        }
        zeros(sink, total - at);
    }

    private static void zeros(Consumer<ByteBuffer> sink, long n) {
        while (n > 0) {
            int len = (int) Math.min(n, ZEROS.capacity());
            sink.accept(ZEROS.duplicate().limit(len));
            n -= len;
        }
    }

    /**
     * The stored values of a sparse tensor as runs of equal length: run {@code i} lies at element
     * {@code pos[i]} of the dense tensor and at byte {@code src[i]} of {@code values}.
     */
    private record Runs(int count, long[] pos, int[] src, byte[] values, int runBytes) {
    }

    private static Runs coo(Tensor t) {
        Tensor indicesT = t.components().get("indices");
        long[] indices = indicesT.toLongArray();
        byte[] values = t.components().get("values").toByteArray();
        long[] size = t.shape().toArray();
        int sparseDim = (int) indicesT.shape().toArray()[0];
        int nnz = (int) indicesT.shape().toArray()[1];
        long slab = 1; // elements of the dense dimensions
        for (int d = sparseDim; d < size.length; d++) {
            slab *= size[d];
        }
        long[] pos = new long[nnz];
        int[] src = new int[nnz];
        int runBytes = nnz == 0 ? 0 : values.length / nnz;
        for (int j = 0; j < nnz; j++) {
            long linear = 0;
            for (int d = 0; d < sparseDim; d++) {
                linear = linear * size[d] + indices[d * nnz + j];
            }
            pos[j] = linear * slab;
            src[j] = j * runBytes;
        }
        return new Runs(nnz, pos, src, values, runBytes);
    }

    private static Runs compressed(Tensor t) {
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
        long slab = 1; // elements of the dense dimensions
        for (int d = 2; d < size.length; d++) {
            slab *= size[d];
        }
        int count = Math.multiplyExact(Math.multiplyExact(nnz, br), bc);
        int runBytes = count == 0 ? 0 : values.length / count;
        long[] pos = new long[count];
        int[] src = new int[count];
        int n = 0;
        for (int o = 0; o + 1 < outer.length; o++) {
            for (long k = outer[o]; k < outer[o + 1]; k++) {
                long p = inner[(int) k];
                long blockRow = columns ? p : o;
                long blockCol = columns ? o : p;
                for (int i = 0; i < br; i++) {
                    for (int j = 0; j < bc; j++) {
                        long row = blockRow * br + i;
                        long col = blockCol * bc + j;
                        pos[n] = (row * size[1] + col) * slab;
                        src[n] = (int) ((k * br * bc + (long) i * bc + j) * runBytes);
                        n++;
                    }
                }
            }
        }
        return new Runs(count, pos, src, values, runBytes);
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
