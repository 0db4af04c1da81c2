package io.torchbridge.reader.internal.data;

import io.torchbridge.reader.DType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Streams a tensor's logical values: row-major order, little-endian, with the conj and neg bits
 * applied, whatever its strides, storage offset and byte order. Contiguous runs go to the sink as
 * zero-copy views of the mapped storage; only strided or transformed data passes through a small
 * scratch buffer.
 */
public final class LogicalBytes {
    private static final int SCRATCH = 1 << 16;

    private LogicalBytes() {
    }

    public static void stream(MappedRegion region, Layout layout, ByteSink sink) {
        long numel = layout.numel();
        if (numel == 0) {
            return;
        }
        int item = layout.dtype().itemSize();
        long[][] dims = simplify(layout.shape(), layout.stride());
        long[] shape = dims[0];
        long[] stride = dims[1];
        int rank = shape.length;
        // Elements per run: the innermost dimension when it is dense, else one element.
        long runElems = 1;
        int outerRank = rank;
        if (rank > 0 && stride[rank - 1] == 1) {
            runElems = shape[rank - 1];
            outerRank = rank - 1;
        }
        long runBytes = Math.multiplyExact(runElems, (long) item);
        boolean transform = layout.transforms();
        Scratch scratch = (transform || runBytes < 4096) ? new Scratch(layout, sink) : null;

        long[] index = new long[outerRank];
        long base = layout.offset();
        while (true) {
            long start = Math.multiplyExact(base, (long) item);
            if (scratch != null) {
                scratch.add(region, start, runBytes);
            } else {
                for (ByteBuffer piece : region.slices(start, runBytes)) {
                    sink.write(piece);
                }
            }
            // Odometer over the outer dimensions.
            // Exact arithmetic per run, not per byte: the view was checked to fit its storage
            // (Layout.fits), so these cannot overflow, and if that ever broke they would fail loudly.
            int d = outerRank - 1;
            while (d >= 0) {
                index[d]++;
                base = Math.addExact(base, stride[d]);
                if (index[d] < shape[d]) {
                    break;
                }
                base = Math.subtractExact(base, Math.multiplyExact(stride[d], shape[d]));
                index[d] = 0;
                d--;
            }
            if (d < 0) {
                break;
            }
        }
        if (scratch != null) {
            scratch.flush();
        }
    }

    /** Drops size-1 dimensions and merges dimensions that are contiguous with the next one. */
    static long[][] simplify(long[] shape, long[] stride) {
        long[] s = new long[shape.length];
        long[] t = new long[shape.length];
        int n = 0;
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] == 1) {
                continue;
            }
            if (n > 0 && t[n - 1] == Math.multiplyExact(shape[i], stride[i])) {
                s[n - 1] = Math.multiplyExact(s[n - 1], shape[i]);
                t[n - 1] = stride[i];
            } else {
                s[n] = shape[i];
                t[n] = stride[i];
                n++;
            }
        }
        return new long[][] {Arrays.copyOf(s, n), Arrays.copyOf(t, n)};
    }

    /** Collects small runs, applies byte swaps and conj/neg, and hands full buffers on. */
    private static final class Scratch {
        private final Layout layout;
        private final ByteSink sink;
        private final ByteBuffer buf;

        Scratch(Layout layout, ByteSink sink) {
            this.layout = layout;
            this.sink = sink;
            int item = layout.dtype().itemSize();
            this.buf = ByteBuffer.allocate(SCRATCH - SCRATCH % item).order(ByteOrder.LITTLE_ENDIAN);
        }

        void add(MappedRegion region, long start, long len) {
            for (ByteBuffer piece : region.slices(start, len)) {
                while (piece.hasRemaining()) {
                    if (!buf.hasRemaining()) {
                        flush();
                    }
                    int n = Math.min(piece.remaining(), buf.remaining());
                    int lim = piece.limit();
                    piece.limit(piece.position() + n);
                    buf.put(piece);
                    piece.limit(lim);
                }
            }
        }

        void flush() {
            buf.flip();
            Transforms.apply(layout, buf);
            sink.write(buf);
            buf.clear();
        }
    }
}
