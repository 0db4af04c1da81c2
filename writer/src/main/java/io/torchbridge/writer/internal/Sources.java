package io.torchbridge.writer.internal;

import io.torchbridge.reader.DType;
import io.torchbridge.reader.internal.data.MappedRegion;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/** The storage sources: Java arrays, caller buffers and a read checkpoint's mapped storages. */
public final class Sources {
    /** Conversion chunk: bounds the heap a save uses whatever the checkpoint's size. */
    private static final int CHUNK = 1 << 20;

    private Sources() {
    }

    public static StorageSource floats(float[] a) {
        return new ArraySource(DType.FLOAT32, a.length, 4, (b, from, n) -> b.asFloatBuffer().put(a, from, n));
    }

    public static StorageSource doubles(double[] a) {
        return new ArraySource(DType.FLOAT64, a.length, 8, (b, from, n) -> b.asDoubleBuffer().put(a, from, n));
    }

    public static StorageSource longs(long[] a, DType dtype) {
        return new ArraySource(dtype, a.length, 8, (b, from, n) -> b.asLongBuffer().put(a, from, n));
    }

    public static StorageSource ints(int[] a, DType dtype) {
        return new ArraySource(dtype, a.length, 4, (b, from, n) -> b.asIntBuffer().put(a, from, n));
    }

    public static StorageSource shorts(short[] a, DType dtype) {
        return new ArraySource(dtype, a.length, 2, (b, from, n) -> b.asShortBuffer().put(a, from, n));
    }

    public static StorageSource booleans(boolean[] a) {
        return new ArraySource(DType.BOOL, a.length, 1, (b, from, n) -> {
            for (int i = 0; i < n; i++) {
                b.put(i, (byte) (a[from + i] ? 1 : 0));
            }
        });
    }

    /** Raw little-endian bytes; {@code dtype} may be null for bytes any dtype may view. */
    public static StorageSource bytes(byte[] a, DType dtype) {
        return buffer(ByteBuffer.wrap(a), dtype);
    }

    /** The bytes from {@code buf}'s position to its limit, not copied; the caller keeps them unchanged until saved. */
    public static StorageSource buffer(ByteBuffer buf, DType dtype) {
        return chunks(List.of(buf), dtype);
    }

    /** The concatenated remaining bytes of {@code chunks}, not copied. */
    public static StorageSource chunks(List<ByteBuffer> chunks, DType dtype) {
        List<ByteBuffer> views = chunks.stream().map(ByteBuffer::duplicate).toList();
        long total = views.stream().mapToLong(ByteBuffer::remaining).sum();
        return new Fixed(dtype, total, sink -> {
            for (ByteBuffer b : views) {
                sink.write(b.duplicate());
            }
        });
    }

    /**
     * A read checkpoint's storage, streamed straight from its mapping under a lease of its file
     * (the checkpoint's close waits for the copy; a copy after close fails with
     * IllegalStateException). Big-endian storages are swapped to little-endian element by element
     * ({@code item} bytes; complex halves apart).
     */
    public static StorageSource mapped(MappedRegion region, DType dtype) {
        ByteOrder order = region.order();
        return new Fixed(dtype, region.length(), sink -> {
            region.file().acquire();
            try {
                for (ByteBuffer c : region.slices(0, region.length())) {
                    if (order == ByteOrder.LITTLE_ENDIAN || dtype == null || dtype.itemSize() == 1) {
                        sink.write(c);
                    } else {
                        swapped(c, dtype, sink);
                    }
                }
            } finally {
                region.file().release();
            }
        });
    }

    /** A source whose size is known up front and whose bytes a function writes. */
    private record Fixed(DType dtype, long nbytes, Body body) implements StorageSource {
        @Override
        public void writeTo(Sink sink) throws IOException {
            body.writeTo(sink);
        }
    }

    @FunctionalInterface
    private interface Body {
        void writeTo(StorageSource.Sink sink) throws IOException;
    }

    private static void swapped(ByteBuffer src, DType dtype, StorageSource.Sink sink) throws IOException {
        int unit = dtype.family() == DType.Family.COMPLEX ? dtype.itemSize() / 2 : dtype.itemSize();
        ByteBuffer out = ByteBuffer.allocateDirect(CHUNK - CHUNK % unit);
        while (src.hasRemaining()) {
            out.clear();
            int n = Math.min(out.capacity(), src.remaining());
            for (int i = 0; i < n; i += unit) {
                for (int k = 0; k < unit; k++) {
                    out.put(i + k, src.get(src.position() + i + unit - 1 - k));
                }
            }
            src.position(src.position() + n);
            out.limit(n);
            sink.write(out);
        }
    }

    /** Puts array elements {@code [from, from + n)} at the start of {@code b} (little-endian). */
    @FunctionalInterface
    private interface Filler {
        void fill(ByteBuffer b, int from, int n);
    }

    /** A primitive array converted to little-endian bytes one chunk at a time. */
    private record ArraySource(DType dtype, int length, int item, Filler filler) implements StorageSource {
        @Override
        public long nbytes() {
            return (long) length * item;
        }

        @Override
        public void writeTo(Sink sink) throws IOException {
            ByteBuffer b = ByteBuffer.allocateDirect(CHUNK).order(ByteOrder.LITTLE_ENDIAN);
            int per = CHUNK / item;
            for (int from = 0; from < length; from += per) {
                int n = Math.min(per, length - from);
                b.clear();
                filler.fill(b, from, n);
                b.limit(n * item);
                sink.write(b);
            }
        }
    }
}
