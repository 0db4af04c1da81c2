package io.torchbridge.reader.internal.pickle;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.reader.DType;
import io.torchbridge.reader.PyComplex;
import io.torchbridge.reader.PyGlobal;
import io.torchbridge.reader.PyTuple;
import io.torchbridge.reader.ReadOptions;
import io.torchbridge.reader.internal.data.Layout;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * What GLOBAL, REDUCE, NEWOBJ, BUILD and BINPERSID mean here. A global is checked against the
 * allowlist when the pickle names it (as PyTorch's weights_only unpickler does) and becomes an
 * inert {@link PyGlobal}. Calls are interpreted only for the globals whose meaning is plain data
 * (dicts, sets, bytes, complex, torch.Size, tensor rebuilds); every other admitted call becomes an
 * inert {@link RawObject}. Nothing is ever looked up by name and run.
 */
final class Calls {
    private final PickleReader reader;
    private final ReadOptions options;
    private final StorageResolver storages;
    /** The last few globals called and their names: see {@link #calledName}. */
    private final PyGlobal[] called = new PyGlobal[4];
    private final String[] calledNames = new String[4];
    private int nextCalled;
    /** Reading a TorchScript archive's pickle (see {@link #global} and {@link #call}). */
    private final boolean torchScript;
    /** Tensors made with a refusal, in the order the pickle made them. */
    private final List<TensorSpec> refused = new ArrayList<>();
    private final Composites composites;

    /** Reading a DCP {@code .metadata} pickle (see {@link #global}). */
    private final boolean dcpMetadata;

    Calls(PickleReader reader, ReadOptions options, StorageResolver storages, boolean torchScript,
          boolean dcpMetadata) {
        this.dcpMetadata = dcpMetadata;
        this.reader = reader;
        this.options = options;
        this.storages = storages;
        this.composites = new Composites(reader);
        this.torchScript = torchScript;
    }

    PyGlobal global(String module, String name) throws CheckpointException {
        module = Allowlist.module(module);
        String full = module + "." + name;
        if (Allowlist.isBlockedModule(module)) { // safety: allowlist-blocked-modules
            throw reader.error(Kind.DISALLOWED_GLOBAL, "global '" + full + "' is refused: module '"
                    + module + "' is never allowed (PyTorch's weights_only loader blocks it too); a "
                    + "checkpoint has no reason to name it, so do not trust this file");
        }
        if (torchScript && Allowlist.isTorchScriptGlobal(module, name)) {
            return new PyGlobal(module, name);
        }
        if (dcpMetadata && Allowlist.isDcpMetadataGlobal(module, name)) {
            return new PyGlobal(module, name);
        }
        if (!Allowlist.allowedByDefault(full) && !options.admits(module, name)) { // safety: allowlist
            throw reader.error(Kind.DISALLOWED_GLOBAL, "global '" + full + "' is not allowed by default "
                    + "(PyTorch's torch.load(weights_only=True) refuses it too). If you trust this file, "
                    + "admit it as inert data with ReadOptions.builder().allowGlobal(\"" + module + "\", \""
                    + name + "\") or the CLI option --allow-global " + full + " (or read the whole file inertly: "
                    + "ReadOptions.builder().inert(true), CLI: torchbridge inspect --inert); it is never executed");
        }
        return new PyGlobal(module, name);
    }

    /**
     * {@code fn}'s full name. A pickle names a global once and fetches it from the memo for every
     * call, so the same few PyGlobals (a tensor rebuild, OrderedDict) come back for each of 100k
     * tensors: their names are joined and hashed once each, not per call (5% of an open).
     */
    private String calledName(PyGlobal fn) {
        for (int i = 0; i < called.length; i++) {
            if (called[i] == fn) {
                return calledNames[i];
            }
        }
        int slot = nextCalled++ & (called.length - 1);
        called[slot] = fn;
        calledNames[slot] = fn.fullName();
        return calledNames[slot];
    }

    /** REDUCE and INST: {@code fn(*args)}. */
    Object call(PyGlobal fn, PyTuple args) throws CheckpointException {
        // A pickle names a global once and fetches it from the memo for every call, so the same
        // PyGlobal comes back for each of 100k tensors: its name is joined and hashed once, not
        // per call (that was 5% of an open).
        String name = calledName(fn);
        if (name.equals("builtins.bytes")) {
            // Not on PyTorch's allowlist (pytorch#133163), so only here when the caller admitted it;
            // protocol 2 writes b'' as bytes() and other bytes as bytes(list) or bytes(str, enc).
            return bytes(fn, args);
        }
        if (torchScript && fn.module().equals("torch.jit._pickle")) {
            return jitHelper(fn, args);
        }
        if (name.equals("torch._utils._rebuild_sparse_csr_tensor")) {
            // torch 1.x's CSR rebuild (layout, (crow_indices, col_indices, values, size)); torch 2.x
            // dropped it, so it is here only when admitted; its arguments are plain data all the same
            arity(args, 2, 2, name);
            return noteRefused(composites.sparse(args.get(0), args.get(1), name));
        }
        if (!Allowlist.allowedByDefault(name)) {
            return new RawObject(fn, args); // admitted by the caller's options (or DCP's metadata classes): inert
        }
        switch (name) {
            case "collections.OrderedDict", "collections.Counter" -> {
                RawDict d = new RawDict(name);
                if (args.size() > 0 && args.get(0) != null) {
                    fill(d, args.get(0));
                }
                return d;
            }
            case "builtins.set" -> {
                RawSet s = new RawSet();
                if (args.size() > 0) {
                    s.items.addAll(sequence(args.get(0), "set()"));
                }
                return s;
            }
            case "builtins.complex" -> {
                double re = args.size() > 0 ? number(args.get(0), "complex()") : 0;
                double im = args.size() > 1 ? number(args.get(1), "complex()") : 0;
                return new PyComplex(re, im);
            }
            case "builtins.bytearray" -> {
                if (args.size() == 0) {
                    return new byte[0];
                } else if (args.get(0) instanceof byte[] b) {
                    return b;
                } else if (args.get(0) instanceof String s && args.size() > 1) {
                    return encode(s, args.get(1));
                }
                return new RawObject(fn, args);
            }
            case "_codecs.encode" -> {
                if (args.size() == 2 && args.get(0) instanceof String s) {
                    return encode(s, args.get(1));
                }
                throw reader.error(Kind.MALFORMED, "_codecs.encode expects (str, encoding)");
            }
            case "torch.Size" -> {
                return args.size() == 0 ? new PyTuple(List.of()) : new PyTuple(sequence(args.get(0), "torch.Size()"));
            }
            case "torch._utils._rebuild_tensor" -> {
                arity(args, 4, 4, name);
                return tensor(args, null, null, name);
            }
            case "torch._utils._rebuild_tensor_v2" -> {
                arity(args, 6, 7, name);
                return tensor(args, null, args.size() > 6 ? args.get(6) : null, name);
            }
            case "torch._utils._rebuild_tensor_v3" -> {
                arity(args, 7, 8, name);
                return tensor(args, dtypeOf(args.get(6)), args.size() > 7 ? args.get(7) : null, name);
            }
            case "torch._utils._rebuild_qtensor" -> {
                arity(args, 7, 7, name);
                // (storage, storage_offset, size, stride, quantizer_params, requires_grad, backward_hooks)
                TensorSpec base = tensor(new PyTuple(List.of(args.get(0), args.get(1), args.get(2), args.get(3),
                        args.get(5))), null, null, name);
                return noteRefused(composites.qtensor(base, args.get(4), name));
            }
            case "torch._utils._rebuild_sparse_tensor" -> {
                arity(args, 2, 2, name);
                return noteRefused(composites.sparse(args.get(0), args.get(1), name));
            }
            case "torch._utils._rebuild_nested_tensor" -> {
                arity(args, 4, 4, name);
                return noteRefused(composites.nested(args, name));
            }
            case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state" -> {
                arity(args, 3, 4, name);
                if (!(args.get(0) instanceof TensorSpec t)) {
                    return new RawObject(fn, args);
                }
                TensorSpec p = copy(t);
                p.parameter = true;
                p.requiresGrad = Boolean.TRUE.equals(args.get(1));
                return p;
            }
            case "torch._tensor._rebuild_from_type_v2" -> {
                arity(args, 4, 4, name);
                Object inner = args.get(0) instanceof PyGlobal f && args.get(2) instanceof PyTuple a
                        ? call(f, a) : null;
                Object type = args.get(1);
                if (inner instanceof TensorSpec t && type instanceof PyGlobal g) {
                    if (g.fullName().equals("torch.Tensor")) {
                        return t;
                    } else if (g.fullName().equals("torch.nn.parameter.Parameter")) {
                        TensorSpec p = copy(t);
                        p.parameter = true;
                        return p;
                    }
                }
                return new RawObject(fn, args);
            }
            default -> {
                // torch.device, quantized/sparse/nested/meta rebuilds, _get_layout, ...: kept as
                // inert calls, with their arguments (tensors included) intact.
                return new RawObject(fn, args);
            }
        }
    }

    /**
     * torch/jit/_pickle.py: the {@code build_*list} helpers and {@code restore_type_tag} return their
     * first argument (the type tag matters only to TorchScript's static types);
     * {@code build_tensor_from_id} names a tensor of a table kept outside the pickle (the 1.x layout
     * and mobile archives), kept inert here with its id.
     */
    private Object jitHelper(PyGlobal fn, PyTuple args) throws CheckpointException {
        return switch (fn.name()) {
            case "build_intlist", "build_tensorlist", "build_doublelist", "build_boollist" -> {
                arity(args, 1, 1, fn.fullName());
                yield args.get(0);
            }
            case "restore_type_tag" -> {
                arity(args, 2, 2, fn.fullName());
                yield args.get(0);
            }
            default -> new RawObject(fn, args);
        };
    }

    /** NEWOBJ and OBJ: {@code cls.__new__(cls, *args)}. */
    Object newObject(PyGlobal cls, PyTuple args) throws CheckpointException {
        String name = cls.fullName();
        if (Allowlist.allowedByDefault(name)) {
            switch (name) {
                case "collections.OrderedDict", "collections.Counter" -> {
                    return new RawDict(name);
                }
                case "builtins.set" -> {
                    return new RawSet();
                }
                default -> {
                    // fall through to an inert object
                }
            }
        }
        return new RawObject(cls, args);
    }

    /** BUILD: {@code target.__setstate__(state)} or {@code target.__dict__.update(state)}. */
    void build(Object target, Object state) throws CheckpointException {
        if (target instanceof RawObject o) {
            o.state = state;
            return;
        }
        if (target instanceof RawDict d) {
            // OrderedDict's state is its __dict__ (state_dict()'s _metadata), maybe with slot state.
            if (state instanceof PyTuple t && t.size() == 2) {
                setAttributes(d, t.get(0));
                setAttributes(d, t.get(1));
            } else {
                setAttributes(d, state);
            }
            return;
        }
        if (target instanceof TensorSpec) {
            // A tensor's BUILD state is Python-side attributes (torch/_tensor.py, __setstate__);
            // they do not change the data, and PyTorch's weights_only loader accepts them.
            return;
        }
        throw reader.error(Kind.MALFORMED, "BUILD on a " + PickleReader.typeName(target)
                + ", which has no state to set");
    }

    private void setAttributes(RawDict d, Object state) throws CheckpointException {
        if (state == null) {
            return;
        }
        if (!(state instanceof RawDict s)) {
            throw reader.error(Kind.MALFORMED, "BUILD state of a dict must be a dict, got "
                    + PickleReader.typeName(state));
        }
        for (Map.Entry<Object, Object> e : s.items.entrySet()) {
            if (!(e.getKey() instanceof String k)) {
                throw reader.error(Kind.MALFORMED, "BUILD state has a non-string attribute name");
            }
            d.attributes.put(k, e.getValue());
        }
    }

    /** BINPERSID: {@code ('storage', storage_type, key, location, numel[, view_metadata])}. */
    Object persistentLoad(Object pid) throws CheckpointException {
        if (!(pid instanceof PyTuple t) || t.size() < 5 || !isStorageTag(t.get(0))) {
            Object o;
            try {
                o = storages.other(pid);
            } catch (CheckpointException e) {
                throw e.record().isPresent() ? e : reader.error(e.kind(), e.detail());
            }
            if (o instanceof TensorRef r) {
                PyTuple args = new PyTuple(List.of(r.storage(), r.offset(), longs(r.shape()), longs(r.stride())));
                return tensor(args, null, null, "the tensors member's tensor");
            }
            return o;
        }
        if (!(t.get(1) instanceof PyGlobal type)) {
            throw reader.error(Kind.MALFORMED, "persistent id's storage type is a "
                    + PickleReader.typeName(t.get(1)) + ", not a storage class");
        }
        String typeName = type.name();
        DType dtype = null;
        if (!typeName.equals("UntypedStorage")) {
            dtype = DType.byStorageName(typeName).orElseThrow(() -> reader.error(Kind.UNSUPPORTED,
                    "unknown storage class " + type.fullName()));
        }
        Object key = t.get(2);
        if (key instanceof Long || key instanceof BigInteger) {
            key = key.toString();
        }
        if (!(key instanceof String k)) {
            throw reader.error(Kind.MALFORMED, "persistent id's key is a " + PickleReader.typeName(key));
        }
        if (!(t.get(3) instanceof String location)) {
            throw reader.error(Kind.MALFORMED, "persistent id's location is a " + PickleReader.typeName(t.get(3)));
        }
        long numel = nonNegative(t.get(4), "storage size");
        StorageRef root = storages.resolve(typeName, dtype, k, location, numel);
        if (t.size() > 5 && t.get(5) != null) {
            // (view_key, offset, size) in elements: torch before 1.0 saved a storage that was a
            // view of another this way (torch/serialization.py, _legacy_load.persistent_load)
            if (!(t.get(5) instanceof PyTuple v) || v.size() != 3) {
                throw reader.error(Kind.MALFORMED, "view_metadata is not (view_key, offset, size)");
            }
            Object viewKey = v.get(0) instanceof Long || v.get(0) instanceof BigInteger ? v.get(0).toString() : v.get(0);
            if (!(viewKey instanceof String vk)) {
                throw reader.error(Kind.MALFORMED, "view_metadata's key is a " + PickleReader.typeName(v.get(0)));
            }
            long offset = nonNegative(v.get(1), "storage view offset");
            long size = nonNegative(v.get(2), "storage view size");
            try {
                return storages.view(root, vk, offset, size);
            } catch (CheckpointException e) {
                throw e.record().isPresent() ? e : reader.error(e.kind(), e.detail());
            }
        }
        return root;
    }

    /** 'storage', or b'storage' as a Python 2 pickle read with encoding='bytes' gives it. */
    private static boolean isStorageTag(Object o) {
        return "storage".equals(o) || (o instanceof byte[] b && java.util.Arrays.equals(b,
                "storage".getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
    }

    private static PyTuple longs(long[] v) {
        List<Object> out = new ArrayList<>(v.length);
        for (long x : v) {
            out.add(x);
        }
        return new PyTuple(out);
    }

    // --- tensors -------------------------------------------------------------------------------

    /**
     * A rebuild call's tensor. Values of the wrong type are refused here; a view that does not fit
     * its storage (or reads it as another dtype) becomes a spec holding its refusal, made here so
     * that it carries this opcode's offset, and thrown where the tree names the tensor, so the
     * error names it too ({@link TensorSpec#refusal}).
     */
    private TensorSpec tensor(PyTuple args, DType v3Dtype, Object metadata, String fn) throws CheckpointException {
        if (!(args.get(0) instanceof StorageRef storage)) {
            throw reader.error(Kind.MALFORMED, fn + " expects a storage first, got "
                    + PickleReader.typeName(args.get(0)));
        }
        DType dtype = v3Dtype != null ? v3Dtype : storage.dtype() != null ? storage.dtype() : DType.UINT8;
        long offset = integer(args.get(1), "storage offset");
        long[] shape = dims(args.get(2), "size");
        long[] stride = dims(args.get(3), "stride");
        TensorSpec t = new TensorSpec(storage, dtype, shape, stride, offset,
                refusal(storage, v3Dtype, dtype, shape, stride, offset, fn));
        if (t.refusal != null) {
            refused.add(t);
        }
        t.requiresGrad = args.size() > 4 && Boolean.TRUE.equals(args.get(4));
        if (metadata instanceof RawDict m) {
            t.conj = Boolean.TRUE.equals(m.items.get("conj"));
            t.neg = Boolean.TRUE.equals(m.items.get("neg"));
        }
        return t;
    }

    /** Keeps a composite tensor's refusal (its own or a component's) with the others. */
    private TensorSpec noteRefused(TensorSpec t) {
        if (t.refusal != null && !refused.contains(t)) {
            refused.add(t);
        }
        return t;
    }

    /** Why the view cannot be read from its storage, or null when it can. */
    private CheckpointException refusal(StorageRef storage, DType v3Dtype, DType dtype, long[] shape, long[] stride,
                                        long offset, String fn) {
        if (v3Dtype != null && storage.dtype() != null && storage.dtype() != v3Dtype) {
            return reader.error(Kind.MALFORMED, fn + " reads a " + storage.dtype() + " storage as " + v3Dtype);
        }
        CheckpointException negative = negative(offset, "storage offset");
        for (int i = 0; negative == null && i < shape.length; i++) {
            negative = negative(shape[i], "size");
        }
        for (int i = 0; negative == null && i < stride.length; i++) {
            negative = negative(stride[i], "stride");
        }
        if (negative != null) {
            return negative;
        }
        if (shape.length != stride.length) {
            return reader.error(Kind.MALFORMED, fn + ": size has " + shape.length + " dimensions but stride has "
                    + stride.length);
        }
        long item = dtype.itemSize();
        long nbytes = storage.info().nbytes();
        if (nbytes % item != 0) { // safety: storage-whole-elements
            return reader.error(Kind.MALFORMED, "storage '" + storage.info().key() + "' has " + nbytes
                    + " bytes, not a whole number of " + dtype + " elements");
        }
        long available = nbytes / item;
        if (dtype.elementsPerByte() > 1) {
            return packedRefusal(dtype, shape, stride, offset, nbytes, storage, fn);
        }
        if (!Layout.fits(shape, stride, offset, available)) { // safety: view-bounds
            return outOfRange(dtype, shape, stride, offset, available, storage);
        }
        return null;
    }

    /**
     * quint4x2 and quint2x4 pack several elements into a byte, so a view of them is only
     * meaningful as the contiguous run torch's quantized kernels use: {@code ceil(numel / per byte)}
     * bytes from the start of the storage (what {@code int_repr()} returns).
     */
    private CheckpointException packedRefusal(DType dtype, long[] shape, long[] stride, long offset, long nbytes,
                                              StorageRef storage, String fn) {
        if (offset != 0 || !Layout.isContiguous(shape, stride)) {
            return reader.error(Kind.UNSUPPORTED, fn + ": a " + dtype + " view with storage offset " + offset
                    + " and stride " + Arrays.toString(stride) + " (packed elements are read only as one contiguous run)");
        }
        long needed;
        try {
            needed = dtype.bytesFor(Layout.numel(shape));
        } catch (ArithmeticException e) {
            return reader.error(Kind.OUT_OF_RANGE, "tensor size overflows 64 bits");
        }
        if (needed > nbytes) { // safety: packed-view-bounds
            return reader.error(Kind.OUT_OF_RANGE, "a " + dtype + " tensor of size " + Arrays.toString(shape)
                    + " needs " + needed + " bytes of storage '" + storage.info().key() + "', which has " + nbytes);
        }
        return null;
    }

    /** Why a view does not fit its storage: it passes the end, or its reach overflows. */
    private CheckpointException outOfRange(DType dtype, long[] shape, long[] stride, long offset, long available,
                                           StorageRef storage) {
        try {
            // Layout.fits says no: either the reach overflows (caught below) or it passes the end.
            long needed = Layout.storageNeeded(shape, stride, offset);
            return reader.error(Kind.OUT_OF_RANGE, "a " + dtype + " tensor of size " + Arrays.toString(shape)
                    + ", stride " + Arrays.toString(stride) + " at offset " + offset + " reaches element "
                    + (needed - 1) + " of storage '" + storage.info().key() + "', which has " + available);
        } catch (ArithmeticException e) {
            return reader.error(Kind.OUT_OF_RANGE, "tensor size, stride and offset overflow 64 bits");
        }
    }

    private CheckpointException negative(long value, String what) {
        return value < 0 ? reader.error(Kind.OUT_OF_RANGE, what + " is negative (" + value + ")") : null;
    }

    /**
     * The refusal of the first tensor made while reading that cannot be read from its storage, or null: for
     * whoever builds no tree (which would have refused it under its name), and for a tensor the
     * tree never reaches, which PyTorch would refuse all the same when it runs the rebuild.
     */
    CheckpointException unreadableTensor() {
        return refused.isEmpty() ? null : refused.get(0).refusal;
    }

    private static TensorSpec copy(TensorSpec t) {
        TensorSpec c = new TensorSpec(t.storage, t.dtype, t.shape, t.stride, t.offset, t.refusal);
        c.requiresGrad = t.requiresGrad;
        c.parameter = t.parameter;
        c.conj = t.conj;
        c.neg = t.neg;
        c.layout = t.layout;
        c.quant = t.quant;
        c.parts = t.parts;
        c.coalesced = t.coalesced;
        return c;
    }

    private DType dtypeOf(Object o) throws CheckpointException {
        if (o instanceof PyGlobal g && g.module().equals("torch")) {
            return DType.byPythonName(g.name()).orElseThrow(() -> reader.error(Kind.UNSUPPORTED,
                    "unknown dtype torch." + g.name()));
        }
        throw reader.error(Kind.MALFORMED, "_rebuild_tensor_v3 expects a torch dtype, got "
                + PickleReader.typeName(o));
    }

    private long[] dims(Object o, String what) throws CheckpointException {
        List<Object> items = sequence(o, what);
        long[] out = new long[items.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = integer(items.get(i), what);
        }
        return out;
    }

    private long nonNegative(Object o, String what) throws CheckpointException {
        long l = integer(o, what);
        CheckpointException negative = negative(l, what);
        if (negative != null) {
            throw negative;
        }
        return l;
    }

    /** An int that fits 64 bits, of either sign. */
    private long integer(Object o, String what) throws CheckpointException {
        if (o instanceof Long l) {
            return l;
        }
        if (o instanceof BigInteger) {
            throw reader.error(Kind.OUT_OF_RANGE, what + " " + o + " does not fit 64 bits");
        }
        throw reader.error(Kind.MALFORMED, what + " is a " + PickleReader.typeName(o) + ", not an int");
    }

    // --- plain data ----------------------------------------------------------------------------

    private void arity(PyTuple args, int min, int max, String fn) throws CheckpointException {
        if (args.size() < min || args.size() > max) {
            throw reader.error(Kind.MALFORMED, fn + " takes " + (min == max ? "" + min : min + " to " + max)
                    + " arguments, got " + args.size());
        }
    }

    @SuppressWarnings("unchecked")
    private List<Object> sequence(Object o, String what) throws CheckpointException {
        if (o instanceof PyTuple t) {
            return t.items();
        } else if (o instanceof java.util.ArrayList<?> l) {
            return (List<Object>) l;
        }
        throw reader.error(Kind.MALFORMED, what + " expects a tuple or list, got " + PickleReader.typeName(o));
    }

    private void fill(RawDict d, Object items) throws CheckpointException {
        if (items instanceof RawDict src) {
            d.items.putAll(src.items);
            return;
        }
        for (Object pair : sequence(items, d.pythonClass + "()")) {
            List<Object> kv = sequence(pair, d.pythonClass + "() item");
            if (kv.size() != 2) {
                throw reader.error(Kind.MALFORMED, d.pythonClass + "() item is not a (key, value) pair");
            }
            d.items.put(kv.get(0), kv.get(1));
        }
    }

    private double number(Object o, String what) throws CheckpointException {
        if (o instanceof Double d) {
            return d;
        } else if (o instanceof Long l) {
            return l;
        }
        throw reader.error(Kind.MALFORMED, what + " expects numbers, got " + PickleReader.typeName(o));
    }

    private Object bytes(PyGlobal fn, PyTuple args) throws CheckpointException {
        if (args.size() == 0) {
            return new byte[0];
        } else if (args.size() == 2 && args.get(0) instanceof String s) {
            return encode(s, args.get(1));
        } else if (args.size() == 1 && args.get(0) instanceof java.util.ArrayList<?> ints) {
            byte[] b = new byte[ints.size()];
            for (int i = 0; i < b.length; i++) {
                if (!(ints.get(i) instanceof Long v) || v < 0 || v > 255) {
                    throw reader.error(Kind.MALFORMED, "bytes() of a list that is not all ints in 0..255");
                }
                b[i] = (byte) (long) v;
            }
            return b;
        }
        return new RawObject(fn, args);
    }

    /** {@code str.encode('latin1')}, which is how protocol 2 spells bytes. */
    private byte[] encode(String s, Object encoding) throws CheckpointException {
        if (!"latin1".equals(encoding) && !"latin-1".equals(encoding) && !"iso-8859-1".equals(encoding)) {
            throw reader.error(Kind.UNSUPPORTED, "bytes encoded as " + encoding + " (only latin1 is used by pickle)");
        }
        byte[] b = new byte[s.length()];
        for (int i = 0; i < b.length; i++) {
            char c = s.charAt(i);
            if (c > 0xFF) {
                throw reader.error(Kind.MALFORMED, "latin1 bytes contain the character U+"
                        + Integer.toHexString(c));
            }
            b[i] = (byte) c;
        }
        return b;
    }
}
