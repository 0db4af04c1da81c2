package io.torchbridge.reader;

import io.torchbridge.reader.internal.data.Assembly;
import io.torchbridge.reader.internal.data.Layout;
import io.torchbridge.reader.internal.data.LogicalBytes;
import io.torchbridge.reader.internal.data.MappedRegion;
import io.torchbridge.reader.internal.data.SmallFloats;
import io.torchbridge.reader.internal.data.TensorRegions;
import io.torchbridge.reader.internal.data.StoredRecord;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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
 *
 * <p><b>Quantized tensors</b> ({@code qint8}, {@code quint8}, {@code qint32}, {@code quint4x2},
 * {@code quint2x4}) are strided views like any other: the data methods give their integers
 * (PyTorch's {@code int_repr()}; for the packed dtypes the packed bytes, see
 * {@link DType#bytesFor}), {@link #quantization()} gives the scheme and parameters, and
 * {@link #toDequantizedFloatArray()} the real values.
 *
 * <p><b>Sparse and nested tensors</b> ({@link #layout()} other than {@link TensorLayout#STRIDED})
 * have no single storage view: {@link #components()} gives their parts (indices, values, ...) as
 * tensors, zero-copy like any other; {@link #data()}, {@link #dataChunks()} and
 * {@link #storageChunks()} throw {@link IllegalStateException}; the copying methods
 * ({@link #stream}, {@link #copyTo(ByteBuffer)}, {@code to*Array()}) give the dense values
 * (PyTorch's {@code to_dense()}; for a nested tensor its components' values concatenated).
 *
 * <p><b>Tensors of a DCP checkpoint in several chunks</b> (saved by several ranks) are
 * contiguous tensors whose values lie in the chunks' storages, maybe in several files; nothing
 * is copied at open. Split along the first dimension (DTensor's {@code Shard(0)}, FSDP), the
 * chunks are consecutive runs of the values: {@link #dataChunks()} and {@link #storageChunks()}
 * give their views one after another, zero-copy ({@link #data()} where there is one view).
 * Split along a later dimension ({@code Shard(1)}), every row interleaves the chunks, so those
 * three throw {@link IllegalStateException}; {@link #stream}, {@code copyTo} and
 * {@code to*Array()} gather the values in row-major order for every split. A tensor in one chunk
 * is that chunk's storage, like any other tensor.
 */
public final class Tensor {
    static {
        // internal: the writer copies a storage under a lease, or its record file-to-file
        TensorRegions.install(t -> t.region, t -> t.stored);
    }

    private final TensorInfo info;
    /** The storage's bytes; null for a tensor assembled from pieces ({@link #assembly}). */
    private final MappedRegion region;
    /**
     * Where the values lie in pieces of several storages and files (a DCP tensor saved in chunks
     * by several ranks), else null: its info is a contiguous view from 0 of a storage of its size.
     */
    private final Assembly assembly;
    private final StoredRecord stored;
    private final boolean swap;
    private final Quantization quantization;
    private final Map<String, Tensor> components;
    private final boolean coalesced;
    private String name;
    /** Paths the value tree reaches this tensor by, counted while it names them (ValueTree.name). */
    int paths;

    Tensor(TensorInfo info, MappedRegion region, StoredRecord stored) {
        this(info, region, stored, null, Map.of(), false);
    }

    /** A tensor whose values {@code assembly} gathers from its pieces. */
    Tensor(TensorInfo info, Assembly assembly) {
        this.info = info;
        this.region = null;
        this.assembly = assembly;
        this.stored = null;
        this.swap = false;
        this.quantization = null;
        this.components = Map.of();
        this.coalesced = false;
    }

    Tensor(TensorInfo info, MappedRegion region, StoredRecord stored, Quantization quantization,
           Map<String, Tensor> components, boolean coalesced) {
        this.info = info;
        this.region = region;
        this.assembly = null;
        this.stored = stored;
        this.swap = region.order() != ByteOrder.LITTLE_ENDIAN;
        this.quantization = quantization;
        this.components = components;
        this.coalesced = coalesced;
    }

    /** {@return the first name under which the checkpoint reaches this tensor ({@code model.fc.weight})} */
    public String name() {
        return name;
    }

    void name(String first) {
        if (name == null) {
            name = first;
        }
    }

    /** Names the components after this tensor ({@code w[indices]}), for messages; a shared one keeps its first name. */
    void nameComponents() {
        for (Map.Entry<String, Tensor> e : components.entrySet()) {
            e.getValue().name(name + "[" + e.getKey() + "]");
        }
        if (quantization instanceof Quantization.PerChannel p) {
            p.scales().name(name + "[scales]");
            p.zeroPoints().name(name + "[zero_points]");
        }
    }

    /** {@return everything known about the tensor without touching its data} */
    public TensorInfo info() {
        return info;
    }

    /** {@return the element type} */
    public DType dtype() {
        return info.dtype();
    }

    /** {@return the sizes (the dense shape for a sparse or nested tensor)} */
    public Shape shape() {
        return info.shape();
    }

    /** {@return the number of elements: the product of the sizes, 1 for a scalar} */
    public long numel() {
        return info.numel();
    }

    /** {@return {@link TensorLayout#STRIDED}, or the sparse or nested layout this tensor was saved with} */
    public TensorLayout layout() {
        return info.layout();
    }

    /** {@return a quantized tensor's scheme and parameters; empty for any other dtype} */
    public Optional<Quantization> quantization() {
        return Optional.ofNullable(quantization);
    }

    /**
     * {@return a sparse or nested tensor's parts, by PyTorch's names, in the order the file gives them:
     * {@code indices}, {@code values} (COO); {@code crow_indices}, {@code col_indices},
     * {@code values} (CSR, BSR); {@code ccol_indices}, {@code row_indices}, {@code values} (CSC,
     * BSC); {@code buffer}, {@code sizes}, {@code strides}, {@code storage_offsets} (nested)} Each
     * is a strided tensor of this checkpoint (zero-copy). Empty for a strided tensor.
     */
    public Map<String, Tensor> components() {
        return components;
    }

    /**
     * {@return a sparse COO tensor's {@code is_coalesced()} after torch loads it: as saved, or where the
     * file does not say (torch 1.x), true for at most one entry} False for any other layout.
     */
    public boolean isCoalesced() {
        return coalesced;
    }
    /**
     * {@return a read-only view of the storage bytes this tensor can reach: from its storage offset, over
     * {@link TensorInfo#extent()} elements, in the file's byte order (little-endian for every file
     * PyTorch writes on x86 and ARM)} For a contiguous tensor without conj/neg bits these are
     * exactly its values. Zero-copy; stays readable after the checkpoint is closed (see above).
     *
     * @throws IllegalStateException if the reachable bytes are over 1 GiB or cross a 1 GiB
     *                               boundary of the storage's mapping (use {@link #dataChunks()}
     *                               or {@link #stream}), or the checkpoint is closed
     */
    public ByteBuffer data() {
        requireStrided("data");
        if (assembly != null) {
            List<ByteBuffer> views = assembledViews("data");
            if (views.size() == 1) {
                return views.get(0);
            } else if (views.isEmpty()) {
                return ByteBuffer.allocate(0).order(ByteOrder.LITTLE_ENDIAN).asReadOnlyBuffer();
            }
            throw new IllegalStateException("tensor '" + name + "' is assembled from " + assembly.pieceCount()
                    + " chunks, which no single view holds; use dataChunks() or stream()");
        }
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

    /** {@return like {@link #data()}, for any size: consecutive read-only views of at most 1 GiB each} */
    public List<ByteBuffer> dataChunks() {
        requireStrided("dataChunks");
        if (assembly != null) {
            return assembledViews("dataChunks");
        }
        long start = firstByte();
        long len = reachableBytes();
        return region.views(start, len);
    }

    /**
     * {@return the whole storage this tensor views (every tensor on the storage sees the same bytes), as
     * consecutive read-only views of at most 1 GiB, in the file's byte order} Zero-copy; what a
     * writer passes through when it saves this tensor again.
     */
    public List<ByteBuffer> storageChunks() {
        requireStrided("storageChunks");
        if (assembly != null) {
            return assembledViews("storageChunks"); // its storage is its values, contiguous from 0
        }
        return region.views(0, region.length());
    }

    /**
     * Streams the logical values (row-major, little-endian, conj/neg applied) to {@code sink} in
     * pieces; each piece is valid only during the call. Works for any size.
     *
     * @param sink receives the pieces, in order; must not keep them
     */
    public void stream(Consumer<ByteBuffer> sink) {
        acquire();
        try {
            if (assembly != null) {
                assembly.stream(sink::accept);
            } else if (info.layout() != TensorLayout.STRIDED) {
                DenseValues.stream(this, sink);
            } else {
                LogicalBytes.stream(region, viewLayout(), sink::accept);
            }
        } finally {
            release();
        }
    }

    /**
     * Copies the logical values' bytes into {@code dst}, advancing its position. For a tensor over
     * 2 GiB, which no single buffer holds, use {@link #stream}.
     *
     * @param dst receives {@code nbytes()} bytes from its position
     */
    public void copyTo(ByteBuffer dst) {
        if (dst.remaining() < info.nbytes()) {
            throw new IllegalArgumentException("destination has " + dst.remaining() + " bytes left, tensor '"
                    + name + "' needs " + info.nbytes());
        }
        stream(dst::put);
    }

    /** {@return the logical values' bytes, little-endian, in a new array} */
    public byte[] toByteArray() {
        byte[] out = new byte[arrayLength(info.nbytes())];
        copyTo(ByteBuffer.wrap(out));
        return out;
    }

    /** {@return the values as floats: float32 exactly, and the narrower float kinds widened exactly} */
    public float[] toFloatArray() {
        acquire();
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
            release();
        }
    }

    /**
     * Copies a float32 tensor's values into {@code dst} from {@code offset}, without allocating:
     * the cheapest way to refill the same arrays (a new array must be zeroed first).
     *
     * @param dst    receives {@code numel()} floats
     * @param offset the index in {@code dst} of the first value
     */
    public void copyTo(float[] dst, int offset) {
        acquire();
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
            release();
        }
    }

    /** {@return the values as doubles: any real float dtype, widened exactly} */
    public double[] toDoubleArray() {
        acquire();
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
            release();
        }
    }

    /** {@return the values as longs: any integer dtype or bool (uint64 as its two's-complement bits)} */
    public long[] toLongArray() {
        acquire();
        try {
            DType.Family f = info.dtype().family();
            boolean quantized = info.dtype() == DType.QINT8 || info.dtype() == DType.QUINT8 || info.dtype() == DType.QINT32;
            if (f != DType.Family.SIGNED && f != DType.Family.UNSIGNED && f != DType.Family.BOOL && !quantized) {
                throw wrongType("toLongArray", "an integer, bool or qint8/quint8/qint32");
            }
            ByteBuffer b = logical();
            long[] out = new long[arrayLength(info.numel())];
            switch (info.dtype()) {
                case INT64, UINT64 -> b.asLongBuffer().get(out);
                case INT32, QINT32 -> { for (int i = 0; i < out.length; i++) out[i] = b.getInt(i * 4); }
                case UINT32 -> { for (int i = 0; i < out.length; i++) out[i] = b.getInt(i * 4) & 0xFFFFFFFFL; }
                case INT16 -> { for (int i = 0; i < out.length; i++) out[i] = b.getShort(i * 2); }
                case UINT16 -> { for (int i = 0; i < out.length; i++) out[i] = b.getShort(i * 2) & 0xFFFF; }
                case INT8, QINT8 -> { for (int i = 0; i < out.length; i++) out[i] = b.get(i); }
                case UINT8, BOOL, QUINT8 -> { for (int i = 0; i < out.length; i++) out[i] = b.get(i) & 0xFF; }
                default -> throw wrongType("toLongArray", "an integer or bool");
            }
            return out;
        } finally {
            release();
        }
    }

    /** {@return the values as ints: int32 and every narrower integer dtype or bool} */
    public int[] toIntArray() {
        acquire();
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
            release();
        }
    }

    /** {@return the values of a bool tensor} */
    public boolean[] toBooleanArray() {
        acquire();
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
            release();
        }
    }

    /**
     * {@return a quantized tensor's real values, in row-major order, as PyTorch's {@code dequantize()}
     * computes them in float32: {@code (q - zero_point) * scale} for every scheme (the float
     * zero points of {@link QScheme#PER_CHANNEL_AFFINE_FLOAT_QPARAMS} too), with {@code q} the integer of each element (unpacked for quint4x2 / quint2x4, low bits first)}
     * PyTorch's vectorized kernels may fuse the multiply and add, so a value can differ from
     * PyTorch's in the last bit.
     *
     * @throws IllegalStateException if the tensor is not quantized
     */
    public float[] toDequantizedFloatArray() {
        if (quantization == null) {
            throw wrongType("toDequantizedFloatArray", "a quantized");
        }
        acquire();
        try {
            return DenseValues.dequantize(this, quantization);
        } finally {
            release();
        }
    }

    /** A lease of the file (of every file, for an assembled tensor); pair with {@link #release()}. */
    private void acquire() {
        if (assembly != null) {
            assembly.acquire();
        } else {
            region.file().acquire();
        }
    }

    private void release() {
        if (assembly != null) {
            assembly.release();
        } else {
            region.file().release();
        }
    }

    /**
     * An assembled tensor's values as zero-copy views: where its chunks are consecutive row ranges
     * (DCP's Shard(0), FSDP), the chunks one after another; else (a Shard(1) split, whose rows
     * interleave chunks) refused, since its values exist nowhere in one piece.
     */
    private List<ByteBuffer> assembledViews(String method) {
        List<ByteBuffer> views = assembly.views();
        if (views == null) {
            throw new IllegalStateException(method + "(): tensor '" + name + "' is assembled from "
                    + assembly.pieceCount() + " chunks that are not consecutive row ranges (split along a later "
                    + "dimension), so its values lie in no views one after another; use stream(), copyTo() or "
                    + "to*Array(), which gather them");
        }
        return views;
    }

    /** For a sparse or nested tensor, which has no single storage view. */
    private void requireStrided(String method) {
        if (info.layout() != TensorLayout.STRIDED) {
            throw new IllegalStateException(method + "() needs a strided tensor; '" + name + "' is "
                    + info.layout() + ": read its components() zero-copy, or its dense values with stream(), "
                    + "copyTo() or to*Array()");
        }
    }

    /** The region and internal layout of a strided tensor, for {@link DenseValues}. */
    MappedRegion region() {
        return region;
    }

    Layout stridedLayout() {
        return viewLayout();
    }

    /**
     * Logical little-endian bytes: a zero-copy view when the layout allows, else one copy. The
     * caller holds a lease of the file for as long as it reads the result.
     */
    private ByteBuffer logical() {
        int n = arrayLength(info.nbytes());
        if (assembly == null && info.layout() == TensorLayout.STRIDED && info.isContiguous() && !swap && !info.neg() && !(info.conj() && info.dtype().family() == DType.Family.COMPLEX)
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
        return info.dtype().bytesFor(info.storageOffset()); // packed dtypes: offset 0 (checked at open)
    }

    /** The bytes of the storage this tensor can reach ({@link TensorInfo#extent()} elements); exact too. */
    private long reachableBytes() {
        return info.dtype().bytesFor(info.extent()); // packed: contiguous (checked at open), so extent = numel
    }

    int arrayLength(long n) {
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

    private Layout viewLayout() {
        if (info.dtype().elementsPerByte() > 1) {
            // packed: the int_repr() bytes, one contiguous run from the storage's start
            return new Layout(info.dtype(), new long[] {info.nbytes()}, new long[] {1}, 0, false, false, false);
        }
        return new Layout(info.dtype(), info.shape().toArray(), info.stride().toArray(), info.storageOffset(),
                info.conj(), info.neg(), swap);
    }

    @Override
    public String toString() {
        return "Tensor[" + name + ", " + info.dtype() + ", " + info.shape()
                + (info.layout() != TensorLayout.STRIDED ? ", " + info.layout() : "") + "]";
    }
}
