package io.torchbridge.reader.internal.pickle;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.reader.DType;
import io.torchbridge.reader.PyGlobal;
import io.torchbridge.reader.PyTuple;
import io.torchbridge.reader.QScheme;
import io.torchbridge.reader.TensorLayout;
import io.torchbridge.reader.internal.data.Layout;
import io.torchbridge.reader.internal.data.LogicalBytes;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The rebuild calls of tensors that are more than one strided view: quantized
 * ({@code _rebuild_qtensor}), sparse ({@code _rebuild_sparse_tensor}) and nested
 * ({@code _rebuild_nested_tensor}), all in {@code torch/_utils.py}; the arguments are what
 * {@code torch/_tensor.py, _reduce_ex_internal} writes. Each becomes one {@link TensorSpec} whose
 * parts are the component tensors. What torch 2.14 checks when it loads such a tensor with
 * {@code weights_only=True} (per-channel axis and lengths; {@code _validate_loaded_sparse_tensors}:
 * component shapes, index ranges, compressed-index order) is checked here, reading the index data
 * once; a tensor that fails carries its refusal, thrown under its name as for any unreadable view.
 */
final class Composites {
    private final PickleReader reader;

    Composites(PickleReader reader) {
        this.reader = reader;
    }

    // --- quantized ---------------------------------------------------------------------------

    /**
     * {@code _rebuild_qtensor(storage, storage_offset, size, stride, quantizer_params,
     * requires_grad, backward_hooks)}; {@code base} is the strided view already made from the
     * first four.
     */
    TensorSpec qtensor(TensorSpec base, Object params, String fn) throws CheckpointException {
        if (base.dtype.family() != DType.Family.QUANTIZED) { // safety: qtensor-storage-dtype
            return withRefusal(base, reader.error(Kind.MALFORMED, fn + " over a " + base.storage.info().type()
                    + ", not a quantized storage (QInt8Storage, QUInt8Storage, ...)"));
        }
        if (!(params instanceof PyTuple p) || p.size() == 0 || !(p.get(0) instanceof PyGlobal scheme)) {
            throw reader.error(Kind.MALFORMED, fn + " expects quantizer params (qscheme, ...), got "
                    + PickleReader.typeName(params));
        }
        TensorSpec t = base;
        switch (scheme.fullName()) {
            case "torch.per_tensor_affine" -> {
                if (p.size() != 3) {
                    throw reader.error(Kind.MALFORMED, fn + ": per_tensor_affine params are (qscheme, scale, "
                            + "zero_point), got " + p.size() + " items");
                }
                double scale = real(p.get(1), "scale");
                long zeroPoint = integer(p.get(2), "zero_point");
                t.quant = new TensorSpec.Quant(QScheme.PER_TENSOR_AFFINE, scale, zeroPoint, null, null, 0);
            }
            case "torch.per_channel_affine", "torch.per_channel_affine_float_qparams" -> {
                if (p.size() != 4) {
                    throw reader.error(Kind.MALFORMED, fn + ": per-channel params are (qscheme, scales, "
                            + "zero_points, axis), got " + p.size() + " items");
                }
                if (!(p.get(1) instanceof TensorSpec scales) || !(p.get(2) instanceof TensorSpec zeroPoints)) {
                    // torch.save writes tensors; torch also accepts Python lists, which no torch writes
                    throw reader.error(Kind.UNSUPPORTED, fn + ": per-channel scales and zero points that are "
                            + PickleReader.typeName(p.get(1)) + " and " + PickleReader.typeName(p.get(2))
                            + ", not tensors");
                }
                long axis = integer(p.get(3), "axis");
                // The scheme follows the zero points' type, as torch's make_per_channel_affine_quantizer
                // decides it: torch.save writes per_channel_affine for both.
                QScheme q = zeroPoints.dtype.family() == DType.Family.FLOAT
                        ? QScheme.PER_CHANNEL_AFFINE_FLOAT_QPARAMS : QScheme.PER_CHANNEL_AFFINE;
                CheckpointException refusal = firstRefusal(base, scales, zeroPoints);
                if (refusal == null) {
                    refusal = perChannelRefusal(base, scales, zeroPoints, axis, fn);
                }
                if (refusal != null && base.refusal == null) {
                    t = withRefusal(base, refusal);
                }
                t.quant = new TensorSpec.Quant(q, 0, 0, scales, zeroPoints, (int) Math.max(0, Math.min(axis, 64)));
            }
            default -> t = withRefusal(base, reader.error(Kind.UNSUPPORTED, fn + ": quantized tensors with qscheme "
                    + scheme.fullName() + " (torch cannot deserialize them either)"));
        }
        return t;
    }

    /** Why per-channel parameters do not fit the tensor (torch/_utils.py, _rebuild_qtensor checks the same). */
    private CheckpointException perChannelRefusal(TensorSpec t, TensorSpec scales, TensorSpec zeroPoints, long axis,
                                                  String fn) {
        if (axis < 0 || axis >= t.shape.length) { // safety: qtensor-axis
            return reader.error(Kind.MALFORMED, fn + ": per-channel axis " + axis + " is out of range for size "
                    + Arrays.toString(t.shape));
        }
        boolean types = scales.dtype.family() == DType.Family.FLOAT && (zeroPoints.dtype.family() == DType.Family.FLOAT
                || zeroPoints.dtype.family() == DType.Family.SIGNED);
        if (!types) { // safety: qtensor-qparams-dtype
            return reader.error(Kind.MALFORMED, fn + ": per-channel scales are " + scales.dtype
                    + " and zero points " + zeroPoints.dtype + "; scales must be float and zero points int or float");
        }
        long expected = t.shape[(int) axis];
        boolean lengths = scales.shape.length == 1 && zeroPoints.shape.length == 1 && scales.shape[0] == expected
                && zeroPoints.shape[0] == expected;
        if (!lengths) { // safety: qtensor-qparams-length
            return reader.error(Kind.MALFORMED, fn + ": per-channel scales " + Arrays.toString(scales.shape)
                    + " and zero points " + Arrays.toString(zeroPoints.shape) + " must be 1-d of size[axis]="
                    + expected);
        }
        return null;
    }

    // --- sparse ------------------------------------------------------------------------------

    /** {@code _rebuild_sparse_tensor(layout, data)}. */
    TensorSpec sparse(Object layoutArg, Object dataArg, String fn) throws CheckpointException {
        TensorLayout layout = layout(layoutArg, fn);
        if (!(dataArg instanceof PyTuple data)) {
            throw reader.error(Kind.MALFORMED, fn + " expects a tuple of components, got "
                    + PickleReader.typeName(dataArg));
        }
        return layout == TensorLayout.SPARSE_COO ? coo(data, fn) : compressed(layout, data, fn);
    }

    /** {@code torch.serialization._get_layout('torch.sparse_coo')}, as the inert call the pickle made. */
    private TensorLayout layout(Object o, String fn) throws CheckpointException {
        if (o instanceof RawObject r && r.callable.fullName().equals("torch.serialization._get_layout")
                && r.args.size() == 1 && r.args.get(0) instanceof String name) {
            TensorLayout l = layoutByName(name);
            if (l != null && l.isSparse()) {
                return l;
            }
            throw reader.error(Kind.UNSUPPORTED, fn + " for layout " + name + " (torch rebuilds only the five "
                    + "sparse layouts)");
        }
        throw reader.error(Kind.MALFORMED, fn + " expects a layout (torch.serialization._get_layout(name)) first, got "
                + PickleReader.typeName(o));
    }

    private static TensorLayout layoutByName(String torchName) {
        for (TensorLayout l : TensorLayout.values()) {
            if (l != TensorLayout.NESTED && torchName.equals("torch." + l.pythonName())) {
                return l;
            }
        }
        return null;
    }

    /** {@code (indices, values, size[, is_coalesced])}. */
    private TensorSpec coo(PyTuple data, String fn) throws CheckpointException {
        if (data.size() != 3 && data.size() != 4) {
            throw reader.error(Kind.MALFORMED, fn + ": sparse_coo data is (indices, values, size[, is_coalesced]), got "
                    + data.size() + " items");
        }
        TensorSpec indices = component(data.get(0), "indices", fn);
        TensorSpec values = component(data.get(1), "values", fn);
        long[] size = dims(data.get(2), fn);
        Map<String, TensorSpec> parts = new LinkedHashMap<>();
        parts.put("indices", indices);
        parts.put("values", values);
        CheckpointException refusal = firstRefusal(indices, values);
        if (refusal == null) {
            refusal = cooRefusal(indices, values, size, fn);
        }
        TensorSpec t = composite(TensorLayout.SPARSE_COO, values, size, parts, refusal);
        // Without the flag (torch < 2.0 writes three items, or None) torch's sparse_coo_tensor
        // calls a tensor of at most one entry coalesced, and any other not.
        Object flag = data.size() > 3 ? data.get(3) : null;
        t.coalesced = flag == null ? indices.shape.length == 2 && indices.shape[1] <= 1 : Boolean.TRUE.equals(flag);
        return t;
    }

    private CheckpointException cooRefusal(TensorSpec indices, TensorSpec values, long[] size, String fn) {
        CheckpointException negative = negativeSize(size, fn);
        if (negative != null) {
            return negative;
        }
        // torch's sparse_coo_tensor converts the indices to int64; int32 ones read as they are. Float
        // indices, which torch truncates, are refused: no torch writes them.
        boolean fits = (indices.dtype == DType.INT64 || indices.dtype == DType.INT32) && indices.shape.length == 2 && values.shape.length >= 1
                && indices.shape[1] == values.shape[0] && indices.shape[0] + values.shape.length - 1 == size.length;
        if (!fits) { // safety: sparse-coo-shapes
            return reader.error(Kind.MALFORMED, fn + ": sparse_coo indices " + indices.dtype + " "
                    + Arrays.toString(indices.shape) + " and values " + Arrays.toString(values.shape)
                    + " do not fit size " + Arrays.toString(size) + " (indices must be int64 or int32 (sparse_dim, nnz), values "
                    + "(nnz, *size[sparse_dim:]))");
        }
        int sparseDim = (int) indices.shape[0];
        for (int d = 1; d < values.shape.length; d++) {
            if (values.shape[d] != size[sparseDim + d - 1]) { // safety: sparse-coo-dense-dims
                return reader.error(Kind.MALFORMED, fn + ": sparse_coo values " + Arrays.toString(values.shape)
                        + " do not match the dense dimensions of size " + Arrays.toString(size));
            }
        }
        long nnz = indices.shape[1];
        long[] position = {0};
        return readIntegers(indices, fn, v -> {
            long i = position[0]++;
            int dim = (int) (i / Math.max(1, nnz));
            if (v < 0 || v >= size[dim]) { // safety: sparse-index-range
                return reader.error(Kind.OUT_OF_RANGE, fn + ": sparse_coo index " + v + " in dimension " + dim
                        + " (entry " + (i % nnz) + ") is outside size " + size[dim]);
            }
            return null;
        });
    }

    /** {@code (compressed_indices, plain_indices, values, size)}. */
    private TensorSpec compressed(TensorLayout layout, PyTuple data, String fn) throws CheckpointException {
        if (data.size() != 4) {
            throw reader.error(Kind.MALFORMED, fn + ": " + layout + " data is (compressed_indices, plain_indices, "
                    + "values, size), got " + data.size() + " items");
        }
        boolean columns = layout == TensorLayout.SPARSE_CSC || layout == TensorLayout.SPARSE_BSC;
        TensorSpec compressed = component(data.get(0), columns ? "ccol_indices" : "crow_indices", fn);
        TensorSpec plain = component(data.get(1), columns ? "row_indices" : "col_indices", fn);
        TensorSpec values = component(data.get(2), "values", fn);
        long[] size = dims(data.get(3), fn);
        Map<String, TensorSpec> parts = new LinkedHashMap<>();
        parts.put(columns ? "ccol_indices" : "crow_indices", compressed);
        parts.put(columns ? "row_indices" : "col_indices", plain);
        parts.put("values", values);
        CheckpointException refusal = firstRefusal(compressed, plain, values);
        if (refusal == null) {
            refusal = compressedRefusal(layout, columns, compressed, plain, values, size, fn);
        }
        return composite(layout, values, size, parts, refusal);
    }

    private CheckpointException compressedRefusal(TensorLayout layout, boolean columns, TensorSpec compressed,
                                                  TensorSpec plain, TensorSpec values, long[] size, String fn) {
        CheckpointException negative = negativeSize(size, fn);
        if (negative != null) {
            return negative;
        }
        if (compressed.shape.length != 1 || plain.shape.length != 1) {
            return reader.error(Kind.UNSUPPORTED, fn + ": batched " + layout + " tensors (indices of more than one "
                    + "dimension)");
        }
        boolean blocked = layout == TensorLayout.SPARSE_BSR || layout == TensorLayout.SPARSE_BSC;
        int valueDims = blocked ? 3 : 1;
        long nnz = plain.shape[0];
        boolean indexTypes = (compressed.dtype == DType.INT64 || compressed.dtype == DType.INT32)
                && plain.dtype == compressed.dtype;
        boolean fits = indexTypes && size.length >= 2 && values.shape.length >= valueDims && values.shape[0] == nnz
                && size.length == 2 + values.shape.length - valueDims;
        if (!fits) { // safety: sparse-compressed-shapes
            return reader.error(Kind.MALFORMED, fn + ": " + layout + " components " + compressed.dtype + " "
                    + Arrays.toString(compressed.shape) + ", " + plain.dtype + " " + Arrays.toString(plain.shape)
                    + " and values " + Arrays.toString(values.shape) + " do not fit size " + Arrays.toString(size));
        }
        long blockRows = blocked ? values.shape[1] : 1;
        long blockCols = blocked ? values.shape[2] : 1;
        for (int d = valueDims; d < values.shape.length; d++) {
            if (values.shape[d] != size[2 + d - valueDims]) {
                return reader.error(Kind.MALFORMED, fn + ": " + layout + " values " + Arrays.toString(values.shape)
                        + " do not match the dense dimensions of size " + Arrays.toString(size));
            }
        }
        boolean tiles = blockRows > 0 && blockCols > 0 && size[0] % blockRows == 0 && size[1] % blockCols == 0;
        if (!tiles) { // safety: sparse-block-tiling
            return reader.error(Kind.MALFORMED, fn + ": blocks of " + blockRows + "x" + blockCols
                    + " do not tile size " + Arrays.toString(size));
        }
        long rows = size[0] / blockRows;
        long cols = size[1] / blockCols;
        long outer = columns ? cols : rows;
        long inner = columns ? rows : cols;
        if (compressed.shape[0] != outer + 1) { // safety: sparse-compressed-length
            return reader.error(Kind.MALFORMED, fn + ": " + layout + " has " + compressed.shape[0]
                    + " compressed indices; size " + Arrays.toString(size) + " needs " + (outer + 1));
        }
        // one long per compressed index: they lie in the file (the view was checked to fit its storage),
        // so this holds at most twice the bytes of that record
        long[] bounds = new long[Math.toIntExact(compressed.shape[0])];
        int[] at = {0};
        CheckpointException e = readIntegers(compressed, fn, v -> {
            int i = at[0]++;
            long previous = i == 0 ? 0 : bounds[i - 1];
            boolean ordered = (i > 0 || v == 0) && v >= previous && v <= nnz && (i < bounds.length - 1 || v == nnz);
            if (!ordered) { // safety: sparse-compressed-order
                return reader.error(Kind.MALFORMED, fn + ": " + layout + " compressed index " + i + " is " + v
                        + "; they must start at 0, never decrease and end at nnz=" + nnz);
            }
            bounds[i] = v;
            return null;
        });
        if (e != null) {
            return e;
        }
        long[] seen = {0, -1};
        int[] segment = {0};
        return readIntegers(plain, fn, v -> {
            long i = seen[0]++;
            while (segment[0] < bounds.length - 1 && i >= bounds[segment[0] + 1]) {
                segment[0]++;
                seen[1] = -1;
            }
            if (v < 0 || v >= inner) { // safety: sparse-index-range-compressed
                return reader.error(Kind.OUT_OF_RANGE, fn + ": " + layout + " plain index " + v + " (entry " + i
                        + ") is outside 0.." + (inner - 1));
            }
            if (v <= seen[1]) { // safety: sparse-plain-sorted
                return reader.error(Kind.MALFORMED, fn + ": " + layout + " plain indices are not sorted and unique "
                        + "within compressed slice " + segment[0] + " (entry " + i + ")");
            }
            seen[1] = v;
            return null;
        });
    }

    /** A dense size with no negative dimension, whose element count (and byte count) fits 64 bits. */
    private CheckpointException negativeSize(long[] size, String fn) {
        boolean valid = true;
        try {
            for (long s : size) {
                valid &= s >= 0;
            }
            Math.multiplyExact(Layout.numel(size), 16L); // the widest element: complex128
        } catch (ArithmeticException e) {
            valid = false;
        }
        if (!valid) { // safety: sparse-size
            return reader.error(Kind.OUT_OF_RANGE, fn + ": size " + Arrays.toString(size)
                    + " is negative or has more elements than 64 bits count");
        }
        return null;
    }

    // --- nested ------------------------------------------------------------------------------

    /** {@code _rebuild_nested_tensor(buffer, sizes, strides, storage_offsets)}. */
    TensorSpec nested(PyTuple args, String fn) throws CheckpointException {
        TensorSpec buffer = component(args.get(0), "buffer", fn);
        TensorSpec sizes = component(args.get(1), "sizes", fn);
        TensorSpec strides = component(args.get(2), "strides", fn);
        TensorSpec offsets = component(args.get(3), "storage_offsets", fn);
        Map<String, TensorSpec> parts = new LinkedHashMap<>();
        parts.put("buffer", buffer);
        parts.put("sizes", sizes);
        parts.put("strides", strides);
        parts.put("storage_offsets", offsets);
        CheckpointException refusal = firstRefusal(buffer, sizes, strides, offsets);
        long[] total = {0};
        if (refusal == null) {
            refusal = nestedRefusal(buffer, sizes, strides, offsets, total, fn);
        }
        return composite(TensorLayout.NESTED, buffer, new long[] {total[0]}, parts, refusal);
    }

    private CheckpointException nestedRefusal(TensorSpec buffer, TensorSpec sizes, TensorSpec strides,
                                              TensorSpec offsets, long[] total, String fn) {
        boolean ints = sizes.dtype == DType.INT64 && strides.dtype == DType.INT64 && offsets.dtype == DType.INT64;
        boolean shapes = buffer.shape.length == 1 && sizes.shape.length == 2 && Arrays.equals(sizes.shape, strides.shape)
                && offsets.shape.length == 1 && offsets.shape[0] == sizes.shape[0];
        if (!ints || !shapes || sizes.shape[1] > 64) { // safety: nested-metadata-shapes
            return reader.error(Kind.MALFORMED, fn + ": nested metadata sizes " + sizes.dtype + " "
                    + Arrays.toString(sizes.shape) + ", strides " + Arrays.toString(strides.shape) + " and offsets "
                    + Arrays.toString(offsets.shape) + " must be int64 (n, dim), (n, dim), (n) over a 1-d buffer");
        }
        int n = (int) Math.min(sizes.shape[0], Integer.MAX_VALUE - 8);
        int rank = (int) sizes.shape[1];
        long[] sz = new long[n * rank];
        long[] st = new long[n * rank];
        long[] off = new long[n];
        CheckpointException e = collect(sizes, sz, fn);
        e = e != null ? e : collect(strides, st, fn);
        e = e != null ? e : collect(offsets, off, fn);
        if (e != null) {
            return e;
        }
        long available = buffer.shape[0];
        for (int i = 0; i < n; i++) {
            long[] shape = Arrays.copyOfRange(sz, i * rank, (i + 1) * rank);
            long[] stride = Arrays.copyOfRange(st, i * rank, (i + 1) * rank);
            boolean nonNegative = off[i] >= 0;
            for (int d = 0; d < rank; d++) {
                nonNegative &= shape[d] >= 0 && stride[d] >= 0;
            }
            if (!nonNegative || !Layout.fits(shape, stride, off[i], available)) { // safety: nested-component-bounds
                return reader.error(Kind.OUT_OF_RANGE, fn + ": nested component " + i + " of size "
                        + Arrays.toString(shape) + ", stride " + Arrays.toString(stride) + " at offset " + off[i]
                        + " does not fit its buffer of " + available + " elements");
            }
            try {
                total[0] = Math.addExact(total[0], Layout.numel(shape));
            } catch (ArithmeticException x) {
                return reader.error(Kind.OUT_OF_RANGE, fn + ": nested components overflow 64 bits");
            }
        }
        return null;
    }

    private CheckpointException collect(TensorSpec t, long[] into, String fn) {
        int[] at = {0};
        return readIntegers(t, fn, v -> {
            into[at[0]++] = v;
            return null;
        });
    }

    // --- shared ------------------------------------------------------------------------------

    private TensorSpec component(Object o, String what, String fn) throws CheckpointException {
        if (o instanceof TensorSpec t && t.layout == io.torchbridge.reader.TensorLayout.STRIDED && t.quant == null) {
            return t;
        }
        throw reader.error(Kind.MALFORMED, fn + " expects a strided tensor as " + what + ", got "
                + (o instanceof TensorSpec t ? "a " + t.layout + (t.quant != null ? " quantized" : "") + " tensor"
                : PickleReader.typeName(o)));
    }

    /**
     * The spec of a composite tensor: its values' storage and dtype, the dense shape with
     * row-major strides, and the refusal (its own, or a component's) if any.
     */
    private static TensorSpec composite(TensorLayout layout, TensorSpec values, long[] shape,
                                        Map<String, TensorSpec> parts, CheckpointException refusal) {
        long[] stride = new long[shape.length];
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            stride[i] = s;
            s = s * Math.max(1, shape[i]); // only for display: may wrap for absurd shapes, never used as bounds
        }
        TensorSpec t = new TensorSpec(values.storage, values.dtype, shape, stride, 0, refusal);
        t.layout = layout;
        t.parts = parts;
        return t;
    }

    /** {@code t}, or a copy carrying {@code refusal} when {@code t} has none of its own yet. */
    private static TensorSpec withRefusal(TensorSpec t, CheckpointException refusal) {
        if (t.refusal != null) {
            return t;
        }
        TensorSpec c = new TensorSpec(t.storage, t.dtype, t.shape, t.stride, t.offset, refusal);
        c.requiresGrad = t.requiresGrad;
        return c;
    }

    private static CheckpointException firstRefusal(TensorSpec... specs) {
        for (TensorSpec t : specs) {
            if (t.refusal != null) {
                return t.refusal;
            }
        }
        return null;
    }

    private long[] dims(Object o, String fn) throws CheckpointException {
        List<Object> items;
        if (o instanceof PyTuple t) {
            items = t.items();
        } else {
            throw reader.error(Kind.MALFORMED, fn + " expects a size tuple, got " + PickleReader.typeName(o));
        }
        long[] out = new long[items.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = integer(items.get(i), "size");
        }
        return out;
    }

    private long integer(Object o, String what) throws CheckpointException {
        if (o instanceof Long l) {
            return l;
        }
        throw reader.error(Kind.MALFORMED, what + " is a " + PickleReader.typeName(o) + ", not an int");
    }

    private double real(Object o, String what) throws CheckpointException {
        if (o instanceof Double d) {
            return d;
        } else if (o instanceof Long l) {
            return l;
        }
        throw reader.error(Kind.MALFORMED, what + " is a " + PickleReader.typeName(o) + ", not a float");
    }

    private interface IntegerCheck {
        CheckpointException check(long value);
    }

    /**
     * Reads an int32 or int64 view's values in row-major order, stopping at the first check that
     * fails. The view was checked to fit its storage when it was made.
     */
    private CheckpointException readIntegers(TensorSpec t, String fn, IntegerCheck check) {
        if (t.dtype != DType.INT64 && t.dtype != DType.INT32) {
            return reader.error(Kind.MALFORMED, fn + ": index tensors are int64 or int32, not " + t.dtype);
        }
        int item = t.dtype.itemSize();
        Layout layout = new Layout(t.dtype, t.shape, t.stride, t.offset, false, false,
                t.storage.region().order() != ByteOrder.LITTLE_ENDIAN);
        CheckpointException[] failed = {null};
        byte[] carry = new byte[8];
        int[] carried = {0};
        t.storage.region().file().acquire();
        try {
            LogicalBytes.stream(t.storage.region(), layout, piece -> {
                ByteBuffer b = piece.duplicate().order(ByteOrder.LITTLE_ENDIAN);
                while (failed[0] == null && b.hasRemaining()) {
                    long v;
                    if (carried[0] == 0 && b.remaining() >= item) {
                        v = item == 8 ? b.getLong() : b.getInt();
                    } else {
                        carry[carried[0]++] = b.get();
                        if (carried[0] < item) {
                            continue;
                        }
                        ByteBuffer c = ByteBuffer.wrap(carry, 0, item).order(ByteOrder.LITTLE_ENDIAN);
                        v = item == 8 ? c.getLong() : c.getInt();
                        carried[0] = 0;
                    }
                    failed[0] = check.check(v);
                }
            });
        } finally {
            t.storage.region().file().release();
        }
        return failed[0];
    }
}
