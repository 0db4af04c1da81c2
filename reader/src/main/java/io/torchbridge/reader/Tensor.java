package io.torchbridge.reader;

import io.torchbridge.reader.internal.data.Layout;
import io.torchbridge.reader.internal.data.LogicalBytes;
import io.torchbridge.reader.internal.data.MappedRegion;
import io.torchbridge.reader.internal.data.SmallFloats;
import io.torchbridge.reader.internal.data.TensorRegions;
import io.torchbridge.reader.internal.data.StoredRecord;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.function.Consumer;

/**
 * A tensor of an open {@link Checkpoint}. Its {@link #info()} is known without touching the
 * data; the data is read from the memory-mapped file only when asked for.
 *
 * <p>Zero-copy access: {@link #data()} is a read-only view of the mapped storage. Copies:
 * {@code to*Array()} and {@link #copyTo(ByteBuffer)} give the logical values in row-major order,
 * with strides, storage offset and the conj/neg bits applied.
 *
 * <p>After {@link Checkpoint#close()}, every method that touches data throws
 * {@link IllegalStateException}. The copying methods ({@code to*Array()}, {@code copyTo},
 * {@link #stream}) read under a lease of the file, so a concurrent close waits for them to
 * finish before it unmaps. Views already handed out by {@link #data()}, {@link #dataChunks()}
 * and {@link #storageChunks()} stay readable after close: the part of the mapping they point
 * into is never unmapped by close, only dropped, and the garbage collector unmaps it once the
 * last such view is gone. Such views therefore keep up to 1.5 GiB of address space (not memory)
 * per view's mapping window alive until they die; drop them when done.
 */
public final class Tensor {
    static {
        // internal: the writer copies a storage under a lease, or its record file-to-file
        TensorRegions.install(t -> t.region, t -> t.stored);
    }

    private final TensorInfo info;
    private final MappedRegion region;
    private final StoredRecord stored;
    private final boolean swap;
    private String name;
    /** Paths the value tree reaches this tensor by, counted while it names them (ValueTree.name). */
    int paths;

    Tensor(TensorInfo info, MappedRegion region, StoredRecord stored) {
        this.info = info;
        this.region = region;
        this.stored = stored;
        this.swap = region.order() != ByteOrder.LITTLE_ENDIAN;
    }

    /** The first name under which the checkpoint reaches this tensor ({@code model.fc.weight}). */
    public String name() {
        return name;
    }

    void name(String first) {
        if (name == null) {
            name = first;
        }
    }

    public TensorInfo info() {
        return info;
    }

    public DType dtype() {
        return info.dtype();
    }

    public Shape shape() {
        return info.shape();
    }

    public long numel() {
        return info.numel();
    }

    /**
     * A read-only view of the storage bytes this tensor can reach: from its storage offset, over
     * {@link TensorInfo#extent()} elements, in the file's byte order (little-endian for every file
     * PyTorch writes on x86 and ARM). For a contiguous tensor without conj/neg bits these are
     * exactly its values. Zero-copy; stays readable after the checkpoint is closed (see above).
     *
     * @throws IllegalStateException if the reachable bytes are over 1 GiB or cross a 1 GiB
     *                               boundary of the storage's mapping (use {@link #dataChunks()}
     *                               or {@link #stream}), or the checkpoint is closed
     */
    public ByteBuffer data() {
        long start = firstByte();
        long len = reachableBytes();
        if (len > MappedRegion.CHUNK) {
            throw new IllegalStateException("tensor '" + name + "' spans " + len
                    + " bytes, more than one mapped view holds; use dataChunks() or stream()");
        }
        List<ByteBuffer> parts = region.views(start, len);
        if (parts.size() == 1) {
            return parts.get(0);
        }
        if (parts.isEmpty()) {
            return ByteBuffer.allocate(0).order(region.order()).asReadOnlyBuffer();
        }
        throw new IllegalStateException("tensor '" + name + "' crosses a 1 GiB mapping boundary of its storage; "
                + "use dataChunks() or stream()");
    }

    /** Like {@link #data()}, for any size: consecutive read-only views of at most 1 GiB each. */
    public List<ByteBuffer> dataChunks() {
        long start = firstByte();
        long len = reachableBytes();
        return region.views(start, len);
    }

    /**
     * The whole storage this tensor views (every tensor on the storage sees the same bytes), as
     * consecutive read-only views of at most 1 GiB, in the file's byte order. Zero-copy; what a
     * writer passes through when it saves this tensor again.
     */
    public List<ByteBuffer> storageChunks() {
        return region.views(0, region.length());
    }

    /**
     * Streams the logical values (row-major, little-endian, conj/neg applied) to {@code sink} in
     * pieces; each piece is valid only during the call. Works for any size.
     */
    public void stream(Consumer<ByteBuffer> sink) {
        region.file().acquire();
        try {
            LogicalBytes.stream(region, layout(), sink::accept);
        } finally {
            region.file().release();
        }
    }

    /**
     * Copies the logical values' bytes into {@code dst}, advancing its position. For a tensor over
     * 2 GiB, which no single buffer holds, use {@link #stream}.
     */
    public void copyTo(ByteBuffer dst) {
        if (dst.remaining() < info.nbytes()) {
            throw new IllegalArgumentException("destination has " + dst.remaining() + " bytes left, tensor '"
                    + name + "' needs " + info.nbytes());
        }
        stream(dst::put);
    }

    /** The logical values' bytes, little-endian, in a new array. */
    public byte[] toByteArray() {
        byte[] out = new byte[arrayLength(info.nbytes())];
        copyTo(ByteBuffer.wrap(out));
        return out;
    }

    /** The values as floats: float32 exactly, and the narrower float kinds widened exactly. */
    public float[] toFloatArray() {
        region.file().acquire();
        try {
            if (info.dtype() != DType.FLOAT32 && (info.dtype().family() != DType.Family.FLOAT
                    || info.dtype() == DType.FLOAT64)) {
                throw wrongType("toFloatArray", "a float32 or narrower float");
            }
            ByteBuffer b = logical();
            float[] out = new float[arrayLength(info.numel())];
            switch (info.dtype()) {
                case FLOAT32 -> b.asFloatBuffer().get(out);
                case FLOAT16 -> decode16(b, out, false);
                case BFLOAT16 -> decode16(b, out, true);
                case FLOAT8_E4M3FN -> decode8(b, out, SmallFloats::e4m3fn);
                case FLOAT8_E5M2 -> decode8(b, out, SmallFloats::e5m2);
                case FLOAT8_E4M3FNUZ -> decode8(b, out, SmallFloats::e4m3fnuz);
                case FLOAT8_E5M2FNUZ -> decode8(b, out, SmallFloats::e5m2fnuz);
                case FLOAT8_E8M0FNU -> decode8(b, out, SmallFloats::e8m0fnu);
                default -> throw wrongType("toFloatArray", "a float32 or narrower float");
            }
            return out;
        } finally {
            region.file().release();
        }
    }

    /**
     * Copies a float32 tensor's values into {@code dst} from {@code offset}, without allocating:
     * the cheapest way to refill the same arrays (a new array must be zeroed first).
     */
    public void copyTo(float[] dst, int offset) {
        region.file().acquire();
        try {
            if (info.dtype() != DType.FLOAT32) {
                throw wrongType("copyTo(float[])", "a float32");
            }
            int n = arrayLength(info.numel());
            if (offset < 0 || dst.length - offset < n) {
                throw new IllegalArgumentException("destination holds " + Math.max(0, dst.length - offset)
                        + " floats from offset " + offset + ", tensor '" + name + "' has " + n);
            }
            logical().asFloatBuffer().get(dst, offset, n);
        } finally {
            region.file().release();
        }
    }

    /** The values as doubles: any real float dtype, widened exactly. */
    public double[] toDoubleArray() {
        region.file().acquire();
        try {
            if (info.dtype() == DType.FLOAT64) {
                ByteBuffer b = logical();
                double[] out = new double[arrayLength(info.numel())];
                b.asDoubleBuffer().get(out);
                return out;
            }
            if (info.dtype().family() != DType.Family.FLOAT) {
                throw wrongType("toDoubleArray", "a float");
            }
            float[] f = toFloatArray();
            double[] out = new double[f.length];
            for (int i = 0; i < f.length; i++) {
                out[i] = f[i];
            }
            return out;
        } finally {
            region.file().release();
        }
    }

    /** The values as longs: any integer dtype or bool (uint64 as its two's-complement bits). */
    public long[] toLongArray() {
        region.file().acquire();
        try {
            DType.Family f = info.dtype().family();
            if (f != DType.Family.SIGNED && f != DType.Family.UNSIGNED && f != DType.Family.BOOL) {
                throw wrongType("toLongArray", "an integer or bool");
            }
            ByteBuffer b = logical();
            long[] out = new long[arrayLength(info.numel())];
            switch (info.dtype()) {
                case INT64, UINT64 -> b.asLongBuffer().get(out);
                case INT32 -> { for (int i = 0; i < out.length; i++) out[i] = b.getInt(i * 4); }
                case UINT32 -> { for (int i = 0; i < out.length; i++) out[i] = b.getInt(i * 4) & 0xFFFFFFFFL; }
                case INT16 -> { for (int i = 0; i < out.length; i++) out[i] = b.getShort(i * 2); }
                case UINT16 -> { for (int i = 0; i < out.length; i++) out[i] = b.getShort(i * 2) & 0xFFFF; }
                case INT8 -> { for (int i = 0; i < out.length; i++) out[i] = b.get(i); }
                case UINT8, BOOL -> { for (int i = 0; i < out.length; i++) out[i] = b.get(i) & 0xFF; }
                default -> throw wrongType("toLongArray", "an integer or bool");
            }
            return out;
        } finally {
            region.file().release();
        }
    }

    /** The values as ints: int32 and every narrower integer dtype or bool. */
    public int[] toIntArray() {
        region.file().acquire();
        try {
            DType d = info.dtype();
            if (d == DType.INT32) {
                ByteBuffer b = logical();
                int[] out = new int[arrayLength(info.numel())];
                b.asIntBuffer().get(out);
                return out;
            }
            if (d.itemSize() > 2 || !(d.family() == DType.Family.SIGNED || d.family() == DType.Family.UNSIGNED
                    || d == DType.BOOL)) {
                throw wrongType("toIntArray", "an integer of 32 bits or fewer, or bool");
            }
            long[] l = toLongArray();
            int[] out = new int[l.length];
            for (int i = 0; i < l.length; i++) {
                out[i] = (int) l[i];
            }
            return out;
        } finally {
            region.file().release();
        }
    }

    /** The values of a bool tensor. */
    public boolean[] toBooleanArray() {
        region.file().acquire();
        try {
            if (info.dtype() != DType.BOOL) {
                throw wrongType("toBooleanArray", "bool");
            }
            ByteBuffer b = logical();
            boolean[] out = new boolean[arrayLength(info.numel())];
            for (int i = 0; i < out.length; i++) {
                out[i] = b.get(i) != 0;
            }
            return out;
        } finally {
            region.file().release();
        }
    }

    /**
     * Logical little-endian bytes: a zero-copy view when the layout allows, else one copy. The
     * caller holds a lease of the file for as long as it reads the result.
     */
    private ByteBuffer logical() {
        int n = arrayLength(info.nbytes());
        if (info.isContiguous() && !swap && !info.neg() && !(info.conj() && info.dtype().family() == DType.Family.COMPLEX)
                && reachableBytes() <= MappedRegion.CHUNK) {
            List<ByteBuffer> parts = region.slices(firstByte(), reachableBytes()); // under the caller's lease
            if (parts.size() == 1) {
                return parts.get(0).order(ByteOrder.LITTLE_ENDIAN);
            } else if (parts.isEmpty()) {
                return ByteBuffer.allocate(0).order(ByteOrder.LITTLE_ENDIAN);
            }
        }
        ByteBuffer b = ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
        copyTo(b);
        b.flip();
        return b;
    }

    private static void decode16(ByteBuffer b, float[] out, boolean brain) {
        for (int i = 0; i < out.length; i++) {
            int bits = b.getShort(i * 2) & 0xFFFF;
            out[i] = brain ? SmallFloats.bfloat16(bits) : SmallFloats.half(bits);
        }
    }

    private interface ByteToFloat {
        float decode(int bits);
    }

    private static void decode8(ByteBuffer b, float[] out, ByteToFloat f) {
        for (int i = 0; i < out.length; i++) {
            out[i] = f.decode(b.get(i) & 0xFF);
        }
    }

    /**
     * Where the reachable bytes start in the storage. Exact, although it cannot overflow: the
     * checkpoint checked that the view fits its storage (Layout.fits) before making this tensor.
     */
    private long firstByte() {
        return Math.multiplyExact(info.storageOffset(), (long) info.dtype().itemSize());
    }

    /** The bytes of the storage this tensor can reach ({@link TensorInfo#extent()} elements); exact too. */
    private long reachableBytes() {
        return Math.multiplyExact(info.extent(), (long) info.dtype().itemSize());
    }

    private int arrayLength(long n) {
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("tensor '" + name + "' has " + n
                    + " elements or bytes, more than a Java array holds; use stream() or dataChunks()");
        }
        return (int) n;
    }

    private IllegalStateException wrongType(String method, String wanted) {
        return new IllegalStateException(method + "() needs " + wanted + " tensor; '" + name + "' is "
                + info.dtype());
    }

    private Layout layout() {
        return new Layout(info.dtype(), info.shape().toArray(), info.stride().toArray(), info.storageOffset(),
                info.conj(), info.neg(), swap);
    }

    @Override
    public String toString() {
        return "Tensor[" + name + ", " + info.dtype() + ", " + info.shape() + "]";
    }
}
