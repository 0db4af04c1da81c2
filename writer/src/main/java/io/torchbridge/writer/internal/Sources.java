package io.torchbridge.writer.internal;

import io.torchbridge.reader.DType;
import io.torchbridge.reader.Tensor;
import io.torchbridge.reader.internal.data.MappedRegion;
import io.torchbridge.reader.internal.data.StoredRecord;
import io.torchbridge.reader.internal.data.TensorRegions;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * The storage sources: Java arrays, caller buffers and a read checkpoint's storages. Sources that
 * convert data do it in the writer's one scratch buffer ({@link StorageSource.Sink#scratch}), so
 * a storage costs no allocation and the heap a save uses is bounded whatever its size.
 */
public final class Sources {
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
        }, null);
    }

    /**
     * A read checkpoint's storage: the tensor's whole storage of {@code nbytes}, viewed as
     * {@code dtype}. Written as the record it was read from, unchanged and with its CRC, when its
     * bytes need no change ({@link StorageSource#stored()}); else streamed from its mapping under a
     * lease of its file (the checkpoint's close waits for the copy; a copy after close fails with
     * IllegalStateException), with big-endian storages swapped to little-endian element by element
     * ({@code item} bytes; complex halves apart). Nothing is mapped until the bytes are streamed.
     */
    public static StorageSource read(Tensor t, long nbytes, DType dtype) {
        MappedRegion region = TensorRegions.of(t);
        if (region == null) {
            return logical(t); // assembled from chunks (DCP): its values are its storage
        }
        StoredRecord rec = TensorRegions.record(t);
        boolean asIs = dtype == null || dtype.itemSize() == 1 || region.order() == ByteOrder.LITTLE_ENDIAN;
        StoredRecord copy = rec != null && rec.size() == nbytes && asIs ? rec : null;
        return new Fixed(dtype, nbytes, sink -> {
            region.file().acquire();
            try {
                for (ByteBuffer c : region.slices(0, region.length())) {
                    if (asIs) {
                        sink.write(c);
                    } else {
                        swapped(c, dtype, sink);
                    }
                }
            } finally {
                region.file().release();
            }
        }, copy);
    }

    /**
     * A tensor's logical values (row-major, little-endian) as a storage of its size, streamed
     * through {@link Tensor#stream} under its own leases: for a tensor whose values lie in pieces
     * of several storages (a DCP tensor of several chunks), which has no storage to copy.
     */
    public static StorageSource logical(Tensor t) {
        return new Fixed(t.dtype(), t.info().nbytes(), sink -> {
            try {
                t.stream(b -> {
                    try {
                        sink.write(b);
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
            } catch (java.io.UncheckedIOException e) {
                throw e.getCause();
            }
        }, null);
    }

    /** A source whose size is known up front and whose bytes a function writes. */
    private record Fixed(DType dtype, long nbytes, Body body, StoredRecord stored) implements StorageSource {
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
        ByteBuffer out = sink.scratch();
        int room = out.capacity() - out.capacity() % unit;
        while (src.hasRemaining()) {
            out.clear();
            int n = Math.min(room, src.remaining());
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
            ByteBuffer b = sink.scratch();
            int per = b.capacity() / item;
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
