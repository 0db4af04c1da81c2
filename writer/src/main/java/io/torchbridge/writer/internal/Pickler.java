package io.torchbridge.writer.internal;

import io.torchbridge.reader.DType;
import io.torchbridge.reader.PyComplex;
import io.torchbridge.reader.PyDict;
import io.torchbridge.reader.PyGlobal;
import io.torchbridge.reader.PyObject;
import io.torchbridge.reader.PyTuple;
import io.torchbridge.reader.QScheme;
import io.torchbridge.reader.TensorLayout;
import io.torchbridge.reader.internal.data.Layout;
import io.torchbridge.reader.internal.pickle.Allowlist;
import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Pickles an object tree the way {@code torch.save} does: protocol 2, CPython's pickler
 * ({@code Lib/pickle.py}: memo by identity, batches of 1000, the smallest int opcode), tensors
 * through {@code torch/_tensor.py, _reduce_ex_internal} and storages through
 * {@code torch/serialization.py, _save.persistent_id}. Only opcodes and globals that PyTorch's
 * weights_only unpickler accepts are written.
 *
 * <p>Identity decides sharing, as in Python: an object reached twice is written once and then
 * fetched from the memo. A tree read by the reader keeps the identity its pickle had, so
 * re-pickling it reproduces the original memo pattern.
 */
public final class Pickler {
    private static final int BATCH = 1000;
    /** The dtypes torch saves with {@code _rebuild_tensor_v3} over an UntypedStorage. */
    private static final Set<DType> V3 = EnumSet.of(DType.UINT16, DType.UINT32, DType.UINT64, DType.COMPLEX32,
            DType.FLOAT8_E4M3FN, DType.FLOAT8_E5M2, DType.FLOAT8_E4M3FNUZ, DType.FLOAT8_E5M2FNUZ,
            DType.FLOAT8_E8M0FNU, DType.FLOAT4_E2M1FN_X2);
    // Strings torch writes from Python literals: one object each, so later uses are memo fetches.
    private static final String STORAGE = "storage";
    private static final String LATIN1 = "latin1";

    private final Out out = new Out();
    private final IdentityHashMap<Object, Integer> memo = new IdentityHashMap<>();
    private final Map<String, Integer> globals = new HashMap<>();
    private int nextMemo;
    private final Function<Object, TensorView> tensors;
    private final Map<StorageSource, String> storageKeys = new IdentityHashMap<>();
    private final Map<StorageSource, DType> storageDtypes = new IdentityHashMap<>();
    private final List<StorageSource> storages = new ArrayList<>();

    /** Globals admitted beyond torch's weights_only allowlist (none for a torch.save pickle). */
    private final java.util.function.Predicate<PyGlobal> alsoAllowed;

    /** @param tensors turns a tensor object of the tree into its view, or returns null if it is none */
    public Pickler(Function<Object, TensorView> tensors) {
        this(tensors, g -> false);
    }

    /**
     * A pickler for a pickle that is not a torch.save checkpoint's (a DCP {@code .metadata}, which
     * torch reads with plain {@code pickle.load}): {@code alsoAllowed} admits more globals, and a
     * call of {@code copyreg.__newobj__} on an admitted class is written as CPython writes
     * {@code cls.__new__(cls, *args)}, NEWOBJ (protocol 2, {@code save_reduce}), so that a dataclass
     * is made without its {@code __init__} and its BUILD state sets its fields.
     */
    public Pickler(Function<Object, TensorView> tensors, java.util.function.Predicate<PyGlobal> alsoAllowed) {
        this.tensors = tensors;
        this.alsoAllowed = alsoAllowed;
    }

    /** Pickles {@code obj}; returns the data.pkl bytes. */
    public byte[] dump(Object obj) {
        out.write(0x80, 2);
        save(obj, "");
        out.write('.');
        return out.toByteArray();
    }

    /** Storages in first-reference order; the i-th is record {@code data/i}. */
    public List<StorageSource> storages() {
        return storages;
    }

    private void save(Object o, String path) {
        if (o == null) {
            out.write('N');
        } else if (o instanceof Boolean b) {
            out.write(b ? 0x88 : 0x89);
        } else if (o instanceof Long || o instanceof Integer || o instanceof Short || o instanceof Byte) {
            saveLong(((Number) o).longValue());
        } else if (o instanceof BigInteger b) {
            saveBig(b);
        } else if (o instanceof Double || o instanceof Float) {
            out.write('G');
            out.writeLongBE(Double.doubleToRawLongBits(((Number) o).doubleValue()));
        } else if (fetch(o)) {
            return;
        } else if (o instanceof String s) {
            byte[] b = Utf8.encode(s);
            out.write('X');
            out.writeIntLE(b.length);
            out.write(b);
            memoize(o);
        } else if (o instanceof PyTuple t) {
            saveTuple(o, t.items(), path);
        } else if (o instanceof List<?> l) {
            out.write(']');
            memoize(o);
            appends(l, path);
        } else if (o instanceof PyDict d) {
            saveDict(d, path);
        } else if (o instanceof Map<?, ?> m) {
            out.write('}');
            memoize(o);
            setitems(m, path);
        } else if (o instanceof byte[] b) {
            // protocol 2: bytes are codecs.encode(str(b, 'latin1'), 'latin1'); torch writes b'' as
            // bytes(), which weights_only refuses (pytorch#133163), so empty bytes go this way too.
            global("_codecs", "encode");
            StringBuilder sb = new StringBuilder(b.length);
            for (byte x : b) {
                sb.append((char) (x & 0xFF));
            }
            save(PyTuple.of(sb.toString(), LATIN1), path);
            out.write('R');
            memoize(o);
        } else if (o instanceof PyComplex c) {
            global("builtins", "complex");
            save(PyTuple.of(c.real(), c.imag()), path);
            out.write('R');
            memoize(o);
        } else if (o instanceof Set<?> s) {
            global("builtins", "set");
            save(PyTuple.of(new ArrayList<Object>(s)), path);
            out.write('R');
            memoize(o);
        } else if (o instanceof PyGlobal g) {
            requireAllowed(g, path);
            global(g.module(), g.name());
        } else if (o instanceof PyObject p && p.callable().fullName().equals("copyreg.__newobj__")
                && p.args().size() > 0 && p.args().get(0) instanceof PyGlobal cls && alsoAllowed.test(cls)) {
            save(cls, path);
            save(new PyTuple(p.args().items().subList(1, p.args().size())), path);
            out.write(0x81); // NEWOBJ
            memoize(o);
            if (p.state() != null) {
                save(p.state(), path);
                out.write('b');
            }
        } else if (o instanceof PyObject p) {
            requireAllowed(p.callable(), path);
            global(p.callable().module(), p.callable().name());
            save(p.args(), path);
            out.write('R');
            memoize(o);
            if (!p.listItems().isEmpty()) {
                appends(p.listItems(), path);
            }
            if (!p.dictItems().isEmpty()) {
                setitems(p.dictItems(), path);
            }
            if (p.state() != null) {
                save(p.state(), path);
                out.write('b');
            }
        } else {
            TensorView t = tensors.apply(o);
            if (t == null) {
                throw new IllegalArgumentException("value '" + path + "' is a " + o.getClass().getName()
                        + ", which has no form torch.load(weights_only=True) accepts");
            }
            saveTensor(o, t, path);
        }
    }

    // --- CPython's save_* ----------------------------------------------------------------------

    private void saveLong(long v) {
        if (v >= 0 && v <= 0xFF) {
            out.write('K', (int) v);
        } else if (v >= 0 && v <= 0xFFFF) {
            out.write('M');
            out.write((int) v & 0xFF, (int) (v >>> 8) & 0xFF);
        } else if (v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE) {
            out.write('J');
            out.writeIntLE((int) v);
        } else {
            saveBig(BigInteger.valueOf(v));
        }
    }

    /** LONG1/LONG4 with pickle.encode_long's minimal two's-complement little-endian bytes. */
    private void saveBig(BigInteger v) {
        if (v.bitLength() < 32) {
            saveLong(v.longValue());
            return;
        }
        byte[] be = v.toByteArray(); // minimal two's complement, as encode_long's trimming gives
        int n = be.length;
        if (n < 256) {
            out.write(0x8a, n);
        } else {
            out.write(0x8b);
            out.writeIntLE(n);
        }
        for (int i = n - 1; i >= 0; i--) {
            out.write(be[i] & 0xFF);
        }
    }

    private void saveTuple(Object o, List<Object> items, String path) {
        if (items.isEmpty()) {
            out.write(')'); // the empty tuple is a singleton; CPython does not memoize it
            return;
        }
        if (items.size() <= 3) {
            for (int i = 0; i < items.size(); i++) {
                save(items.get(i), child(path, i));
            }
            out.write(0x84 + items.size()); // TUPLE1..3
        } else {
            out.write('(');
            for (int i = 0; i < items.size(); i++) {
                save(items.get(i), child(path, i));
            }
            out.write('t');
        }
        memoize(o);
    }

    private void saveDict(PyDict d, String path) {
        String cls = d.pythonClass();
        if (cls.equals(PyDict.DICT)) {
            if (!d.attributes().isEmpty()) {
                throw new IllegalArgumentException("value '" + path + "' is a plain dict with attributes "
                        + d.attributes().keySet() + "; only an OrderedDict carries attributes");
            }
            out.write('}');
            memoize(d);
            setitems(d.items(), path);
            return;
        }
        if (!cls.equals(PyDict.ORDERED_DICT) && !cls.equals("collections.Counter")) {
            throw new IllegalArgumentException("value '" + path + "' is a " + cls
                    + ", which torch.load(weights_only=True) cannot rebuild");
        }
        // OrderedDict.__reduce__: (cls, (), vars(self) or None, None, iter(items))
        int dot = cls.lastIndexOf('.');
        global(cls.substring(0, dot), cls.substring(dot + 1));
        out.write(')');
        out.write('R');
        memoize(d);
        setitems(d.items(), path);
        if (!d.attributes().isEmpty()) {
            save(new LinkedHashMap<Object, Object>(d.attributes()), path);
            out.write('b');
        }
    }

    private void appends(Collection<?> items, String path) {
        Iterator<?> it = items.iterator();
        int i = 0;
        while (true) {
            List<Object> batch = new ArrayList<>();
            while (it.hasNext() && batch.size() < BATCH) {
                batch.add(it.next());
            }
            if (batch.size() > 1) {
                out.write('(');
                for (Object o : batch) {
                    save(o, child(path, i++));
                }
                out.write('e');
            } else if (batch.size() == 1) {
                save(batch.get(0), child(path, i++));
                out.write('a');
            }
            if (batch.size() < BATCH) {
                return;
            }
        }
    }

    private void setitems(Map<?, ?> m, String path) {
        Iterator<? extends Map.Entry<?, ?>> it = m.entrySet().iterator();
        while (true) {
            List<Map.Entry<?, ?>> batch = new ArrayList<>();
            while (it.hasNext() && batch.size() < BATCH) {
                batch.add(it.next());
            }
            if (batch.size() > 1) {
                out.write('(');
                for (Map.Entry<?, ?> e : batch) {
                    save(e.getKey(), path);
                    save(e.getValue(), child(path, e.getKey()));
                }
                out.write('u');
            } else if (batch.size() == 1) {
                save(batch.get(0).getKey(), path);
                save(batch.get(0).getValue(), child(path, batch.get(0).getKey()));
                out.write('s');
            }
            if (batch.size() < BATCH) {
                return;
            }
        }
    }

    // --- tensors and storages -----------------------------------------------------------------

    private void saveTensor(Object o, TensorView t, String path) {
        if (t.extra() instanceof TensorView.Composite c) {
            saveComposite(o, t, c, path);
            return;
        }
        if (t.extra() instanceof TensorView.Quantized q) {
            saveQTensor(o, t, q, path);
            return;
        }
        if (t.dtype().family() == DType.Family.QUANTIZED) {
            throw new IllegalArgumentException("tensor '" + path + "' is " + t.dtype()
                    + " without quantization parameters; it cannot be written");
        }
        if (t.parameter()) {
            // torch/nn/parameter.py, __reduce_ex__: (_rebuild_parameter, (self.data, requires_grad, OrderedDict()))
            global("torch._utils", "_rebuild_parameter");
            TensorView data = new TensorView(t.storage(), t.location(), t.dtype(), t.shape(), t.stride(), t.offset(),
                    false, false, t.conj(), t.neg());
            saveTensor(new Object(), data, path);
            out.write(t.requiresGrad() ? 0x88 : 0x89);
            emptyOrderedDict();
            out.write(0x87);
            memoize(new Object());
            out.write('R');
            memoize(o);
            return;
        }
        boolean v3 = V3.contains(t.dtype());
        global("torch._utils", v3 ? "_rebuild_tensor_v3" : "_rebuild_tensor_v2");
        out.write('(');
        persistentId(t, path);
        saveLong(t.offset());
        saveTuple(new Object(), boxed(t.shape()), path);
        saveTuple(new Object(), boxed(t.stride()), path);
        out.write(t.requiresGrad() ? 0x88 : 0x89);
        emptyOrderedDict();
        if (v3) {
            global("torch", t.dtype().pythonName());
        }
        if (t.conj() || t.neg()) {
            // torch._C._get_tensor_metadata builds a fresh dict with fresh key strings each time
            // (neg before conj, as torch/csrc/utils/tensor_*.cpp fills it).
            Map<Object, Object> meta = new LinkedHashMap<>();
            if (t.neg()) {
                meta.put(new String("neg"), Boolean.TRUE);
            }
            if (t.conj()) {
                meta.put(new String("conj"), Boolean.TRUE);
            }
            save(meta, path);
        }
        out.write('t');
        memoize(new Object());
        out.write('R');
        memoize(o);
    }

    /**
     * {@code _rebuild_qtensor(storage, storage_offset, size, stride, quantizer_params,
     * requires_grad, OrderedDict())} as {@code torch/_tensor.py, _reduce_ex_internal} writes it; the
     * per-channel float-qparams scheme is written as {@code per_channel_affine}, as torch does
     * (its float zero points restore the scheme on load).
     */
    private void saveQTensor(Object o, TensorView t, TensorView.Quantized q, String path) {
        if (t.dtype().family() != DType.Family.QUANTIZED) {
            throw new IllegalArgumentException("tensor '" + path + "' has quantization parameters but is " + t.dtype());
        }
        global("torch._utils", "_rebuild_qtensor");
        out.write('(');
        persistentId(t, path);
        saveLong(t.offset());
        saveTuple(new Object(), boxed(t.shape()), path);
        saveTuple(new Object(), boxed(t.stride()), path);
        if (q.scheme() == QScheme.PER_TENSOR_AFFINE) {
            save(PyTuple.of(new PyGlobal("torch", "per_tensor_affine"), q.scale(), q.zeroPoint()), path);
        } else {
            save(new PyTuple(List.of(new PyGlobal("torch", "per_channel_affine"), q.scales(), q.zeroPoints(),
                    (long) q.axis())), path);
        }
        out.write(t.requiresGrad() ? 0x88 : 0x89);
        emptyOrderedDict();
        out.write('t');
        memoize(new Object());
        out.write('R');
        memoize(o);
    }

    /**
     * {@code _rebuild_sparse_tensor(layout, data)} and {@code _rebuild_nested_tensor(buffer, sizes,
     * strides, storage_offsets)}, as {@code torch/_tensor.py, _reduce_ex_internal} writes them: the
     * layout as {@code torch.serialization._get_layout(name)} (one object per layout, so a second
     * use is a memo fetch, as for torch's layout singletons), the size as a {@code torch.Size}.
     */
    private void saveComposite(Object o, TensorView t, TensorView.Composite c, String path) {
        if (c.layout() == TensorLayout.NESTED) {
            global("torch._utils", "_rebuild_nested_tensor");
            save(new PyTuple(c.parts()), path);
        } else {
            global("torch._utils", "_rebuild_sparse_tensor");
            PyObject layout = layouts.computeIfAbsent(c.layout(), l -> new PyObject(
                    new PyGlobal("torch.serialization", "_get_layout"), PyTuple.of("torch." + l.pythonName()), null));
            List<Object> data = new ArrayList<>(c.parts());
            data.add(new PyObject(new PyGlobal("torch", "Size"), PyTuple.of(new PyTuple(boxed(t.shape()))), null));
            if (c.layout() == TensorLayout.SPARSE_COO) {
                data.add(c.coalesced());
            }
            save(PyTuple.of(layout, new PyTuple(data)), path);
        }
        out.write('R');
        memoize(o);
    }

    private final Map<TensorLayout, PyObject> layouts = new java.util.EnumMap<>(TensorLayout.class);

    /** {@code ('storage', storage_type, key, location, numel)} then BINPERSID; never memoized as a whole. */
    private void persistentId(TensorView t, String path) {
        StorageSource s = t.storage();
        DType known = storageDtypes.putIfAbsent(s, t.dtype());
        if (known != null && known != t.dtype()) {
            throw new IllegalArgumentException("tensor '" + path + "' views a " + known + " storage as " + t.dtype()
                    + "; torch.save refuses tensors that view the same data as different types");
        }
        long item = t.dtype().itemSize();
        if (s.nbytes() % item != 0) {
            throw new IllegalArgumentException("tensor '" + path + "': its storage has " + s.nbytes()
                    + " bytes, not a whole number of " + t.dtype() + " elements");
        }
        if (t.dtype().elementsPerByte() > 1) {
            checkPacked(t, s.nbytes(), path);
        } else {
            checkBounds(t, s.nbytes() / item, path);
        }
        String key = storageKeys.get(s);
        if (key == null) {
            key = Integer.toString(storages.size());
            storageKeys.put(s, key);
            storages.add(s);
        }
        boolean v3 = V3.contains(t.dtype());
        out.write('(');
        save(STORAGE, path);
        if (v3) {
            global("torch.storage", "UntypedStorage");
        } else {
            global("torch", t.dtype().storageName());
        }
        save(key, path);
        save(t.location() != null ? t.location() : CPU, path);
        saveLong(v3 ? s.nbytes() : s.nbytes() / item);
        out.write('t');
        memoize(new Object());
        out.write('Q');
    }

    /** torch tags CPU storages with one interned 'cpu' string, so later uses are memo fetches. */
    private static final String CPU = "cpu";

    /** The writer's side of the one bounds check (Layout.fits), with the caller's error. */
    private static void checkBounds(TensorView t, long available, String path) {
        if (t.shape().length != t.stride().length) {
            throw new IllegalArgumentException("tensor '" + path + "': shape and stride differ in rank");
        }
        for (int i = 0; i < t.shape().length; i++) {
            if (t.shape()[i] < 0 || t.stride()[i] < 0) {
                throw new IllegalArgumentException("tensor '" + path + "': negative size or stride");
            }
        }
        if (!Layout.fits(t.shape(), t.stride(), t.offset(), available)) {
            throw new IllegalArgumentException("tensor '" + path + "' reaches past the end of its storage of "
                    + available + " elements");
        }
    }

    /** quint4x2 / quint2x4: one contiguous run of packed bytes from the storage's start (see DType.bytesFor). */
    private static void checkPacked(TensorView t, long nbytes, String path) {
        if (t.offset() != 0 || !Layout.isContiguous(t.shape(), t.stride())) {
            throw new IllegalArgumentException("tensor '" + path + "': a " + t.dtype()
                    + " tensor must be contiguous from its storage's start");
        }
        if (t.dtype().bytesFor(Layout.numel(t.shape())) > nbytes) {
            throw new IllegalArgumentException("tensor '" + path + "' needs more than its storage's " + nbytes + " bytes");
        }
    }

    private void emptyOrderedDict() {
        global("collections", "OrderedDict");
        out.write(')');
        out.write('R');
        memoize(new Object());
    }

    // --- memo and globals ----------------------------------------------------------------------

    private boolean fetch(Object o) {
        Integer idx = memo.get(o);
        if (idx == null) {
            return false;
        }
        get(idx);
        return true;
    }

    private void memoize(Object o) {
        int idx = nextMemo++;
        memo.put(o, idx);
        if (idx < 256) {
            out.write('q', idx);
        } else {
            out.write('r');
            out.writeIntLE(idx);
        }
    }

    private void get(int idx) {
        if (idx < 256) {
            out.write('h', idx);
        } else {
            out.write('j');
            out.writeIntLE(idx);
        }
    }

    /** GLOBAL, memoized by name as CPython memoizes the class object. */
    private void global(String module, String name) {
        String key = module + "\n" + name;
        Integer idx = globals.get(key);
        if (idx != null) {
            get(idx);
            return;
        }
        // protocol 2 with fix_imports writes Python 3's builtins as Python 2's __builtin__
        String written = module.equals("builtins") ? "__builtin__" : module;
        out.write('c');
        out.write((written + "\n" + name + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
        globals.put(key, nextMemo);
        memoize(new Object());
    }

    private void requireAllowed(PyGlobal g, String path) {
        if (Allowlist.isBlockedModule(g.module()) || !Allowlist.allowedByDefault(g.fullName()) && !alsoAllowed.test(g)) {
            throw new IllegalArgumentException("value '" + path + "' names " + g.fullName()
                    + ", which torch.load(weights_only=True) refuses; it cannot be written");
        }
    }

    private static List<Object> boxed(long[] a) {
        List<Object> l = new ArrayList<>(a.length);
        for (long v : a) {
            l.add(v);
        }
        return l;
    }

    private static String child(String path, Object key) {
        String k = String.valueOf(key);
        return path.isEmpty() ? k : path + "." + k;
    }

    /** A growable byte buffer with the few encodings pickle needs. */
    private static final class Out extends ByteArrayOutputStream {
        void write(int a, int b) {
            write(a);
            write(b);
        }

        void writeIntLE(int v) {
            write(v & 0xFF);
            write(v >>> 8 & 0xFF);
            write(v >>> 16 & 0xFF);
            write(v >>> 24 & 0xFF);
        }

        void writeLongBE(long v) {
            write(ByteBuffer.allocate(8).putLong(v).array(), 0, 8);
        }

        @Override
        public void write(byte[] b) {
            write(b, 0, b.length);
        }
    }
}
