package io.torchbridge.reader.internal.pickle;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.reader.PyGlobal;
import io.torchbridge.reader.PyTuple;
import io.torchbridge.reader.ReadOptions;
import java.math.BigInteger;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import net.razorvine.pickle.UnpickleStack;

/**
 * Reads one pickle into raw values; {@link #read} is the only way in, and checks every opcode (see
 * package-info for what is Pyrolite's and what is ours). Not thread-safe; one instance per record.
 */
public final class PickleReader {
    /** {@code pickle.HIGHEST_PROTOCOL} of the Pythons torch supports. */
    private static final int HIGHEST_PROTOCOL = 5;

    private final ReadOptions options;
    private final String record;
    private final Calls calls;
    /** Reading a DCP {@code .metadata} pickle: see {@link #forDcpMetadata}. */
    private final boolean dcpMetadata;
    private OpcodeDecoder in;
    private Stack stack;
    private Memo memo;
    private Op op;
    private long opOffset;

    public PickleReader(ReadOptions options, String record, StorageResolver storages) {
        this(options, record, storages, false);
    }

    /**
     * @param torchScript read a TorchScript archive's pickle: its {@code __torch__.*} classes become
     *                    inert objects and torch.jit._pickle's helpers are understood ({@link Calls});
     *                    never for a torch.save checkpoint, whose loader admits neither
     */
    public PickleReader(ReadOptions options, String record, StorageResolver storages, boolean torchScript) {
        this(options, record, storages, torchScript, false);
    }

    private PickleReader(ReadOptions options, String record, StorageResolver storages, boolean torchScript,
                         boolean dcpMetadata) {
        this.options = options;
        this.record = record;
        this.dcpMetadata = dcpMetadata;
        this.calls = new Calls(this, options, storages, torchScript, dcpMetadata);
    }

    /**
     * A reader for the {@code .metadata} pickle of a torch.distributed.checkpoint directory, and
     * for nothing else: besides what {@code options} admit, the metadata classes of
     * {@code torch.distributed.checkpoint} ({@link Allowlist#isDcpMetadataGlobal}) become inert
     * objects, and such an object may be a dict key ({@code storage_data} is keyed by the frozen
     * dataclass {@code MetadataIndex}; here by identity, the DCP reader checks keys itself).
     * The pickle names no storages.
     */
    public static PickleReader forDcpMetadata(ReadOptions options, String record) {
        return new PickleReader(options, record, (type, dtype, key, location, numel) -> {
            throw CheckpointException.at(Kind.MALFORMED, record, -1, "a DCP .metadata pickle names a storage ('"
                    + key + "'); torch writes tensor data to the .distcp files only");
        }, false, true);
    }

    /**
     * The refusal of the first tensor read so far that cannot be read from its storage (a view
     * past its end, another dtype), or null: for a caller that builds no value tree, which is
     * where such a tensor is refused under its name, and for one the tree never reaches.
     */
    public CheckpointException unreadableTensor() {
        return calls.unreadableTensor();
    }

    /** Reads the pickle in {@code data}; the result holds raw values (RawDict, ArrayList, ...). */
    public Object read(byte[] data) throws CheckpointException {
        return read(data, false);
    }

    /**
     * Reads the pickle in {@code data}. Bytes after its STOP are refused unless
     * {@code allowTrailing}: torch reads only the first pickle of a record, so a second one hidden
     * behind it is something only an attacker puts there (the scan lists it either way).
     */
    public Object read(byte[] data, boolean allowTrailing) throws CheckpointException {
        in = new OpcodeDecoder(data, false);
        stack = new Stack();
        memo = new Memo(fetchedIndices(data));
        op = null;
        try {
            while (true) {
                op = in.next();
                opOffset = in.offset();
                if (op == null) {
                    throw error(Kind.TRUNCATED, "the pickle ends without a STOP opcode");
                }
                if (op == Op.STOP) {
                    Object result = pop();
                    if (!allowTrailing && in.remaining() > 0) { // safety: pickle-bytes-after-stop
                        opOffset = in.position();
                        throw error(Kind.MALFORMED, in.remaining() + " bytes follow the pickle's STOP (a second "
                                + "pickle hidden behind the first?); torch.save never writes them");
                    }
                    return result;
                }
                step(op);
                if (stack.size() > options.maxStack()) { // safety: pickle-max-stack
                    throw error(Kind.LIMIT_EXCEEDED, "the stack holds more than " + options.maxStack()
                            + " items (ReadOptions.maxStack)");
                }
                if (memo.size() > options.maxMemo()) { // safety: pickle-max-memo
                    throw error(Kind.LIMIT_EXCEEDED, "the memo holds more than " + options.maxMemo()
                            + " entries (ReadOptions.maxMemo)");
                }
            }
        } catch (OperandException e) {
            throw CheckpointException.at(e.kind(), record, in.offset(), e.getMessage());
        } catch (CheckpointException e) {
            throw e;
        } catch (IndexOutOfBoundsException e) {
            throw error(Kind.MALFORMED, op + " needs more values on the stack than there are").withCause(e);
        } catch (ClassCastException e) {
            throw error(Kind.MALFORMED, op + " found a value of the wrong type on the stack").withCause(e);
        } catch (RuntimeException e) {
            throw error(Kind.MALFORMED, op + ": " + e.getMessage()).withCause(e);
        } catch (StackOverflowError e) {
            throw error(Kind.LIMIT_EXCEEDED, op + " nests values too deeply for the thread's stack");
        } finally {
            in = null;
            stack = null;
            memo = null;
        }
    }

    /**
     * How many bytes the first pickle in {@code data} takes, up to and including its STOP; -1 when
     * {@code data} ends first (the pickle may go on in bytes not given). For containers that
     * write several pickles one after another (the legacy stream), which say nowhere where one
     * ends. A byte that is no opcode ends the walk there: reading that prefix reports it.
     */
    public static int pickleLength(byte[] data) {
        OpcodeDecoder d = new OpcodeDecoder(data, true);
        try {
            for (Op o = d.next(); o != null; o = d.next()) {
                if (o == Op.STOP) {
                    return d.position();
                }
            }
            return -1;
        } catch (OperandException e) {
            return e.kind() == Kind.TRUNCATED ? -1 : d.offset() + 1;
        }
    }

    /**
     * The memo indices that some GET up to the first STOP reads, or null when every entry must be
     * kept (an index too large for the set, or bytes the walk cannot decode: the read itself then
     * reports them). torch.save's pickler memoizes every value it writes, so without this the memo
     * would keep each tensor's argument tuples alive until the end: most of the heap a pickle of
     * many small tensors takes, although only a handful of entries (a global, 'storage', 'cpu', a
     * shared storage) is ever read again.
     */
    static BitSet fetchedIndices(byte[] data) {
        OpcodeDecoder d = new OpcodeDecoder(data, false);
        BitSet fetched = new BitSet();
        try {
            for (Op o = d.next(); o != null && o != Op.STOP; o = d.next()) {
                if (o == Op.GET || o == Op.BINGET || o == Op.LONG_BINGET) {
                    long i = d.memoIndex();
                    if (i >= Memo.DENSE_LIMIT) {
                        return null;
                    }
                    fetched.set((int) i);
                }
            }
        } catch (OperandException e) {
            return null;
        }
        return fetched;
    }

    /** An error at the current opcode. */
    CheckpointException error(Kind kind, String detail) {
        return CheckpointException.at(kind, record, opOffset, detail);
    }

    private void step(Op op) throws OperandException, CheckpointException {
        switch (op) {
            // Plain values; the decoder has checked each operand's length against the bytes left.
            case NONE -> stack.add(null);
            case NEWTRUE -> stack.add(Boolean.TRUE);
            case NEWFALSE -> stack.add(Boolean.FALSE);
            case INT, LONG, BININT, BININT1, BININT2, LONG1, LONG4 -> stack.add(in.integer());
            case FLOAT, BINFLOAT -> stack.add(in.floating());
            case STRING, BINSTRING, SHORT_BINSTRING, UNICODE, BINUNICODE, SHORT_BINUNICODE, BINUNICODE8 ->
                    stack.add(in.text());
            case BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8 -> stack.add(in.bytes());
            // Framing and protocol: nothing to build.
            case PROTO -> {
                if (in.number() > HIGHEST_PROTOCOL) { // safety: pickle-protocol
                    throw error(Kind.MALFORMED, "unsupported pickle protocol: " + in.number());
                }
            }
            case FRAME -> {
                long n = in.number();
                if (n < 0 || n > in.remaining()) { // safety: pickle-frame-bounds
                    throw error(Kind.TRUNCATED, "FRAME declares " + Long.toUnsignedString(n) + " bytes but only "
                            + in.remaining() + " remain in " + record);
                }
            }
            // The stack and the memo.
            case MARK -> stack.add_mark();
            case POP -> pop();
            case POP_MARK -> popMark();
            case DUP -> stack.add(peek());
            case PUT, BINPUT, LONG_BINPUT -> memo.put(in.memoIndex(), peek());
            case MEMOIZE -> memo.put(memo.size(), peek());
            case GET, BINGET, LONG_BINGET -> {
                long i = in.memoIndex();
                if (!memo.contains(i)) { // safety: pickle-memo-get
                    throw error(Kind.MALFORMED, op + ": memo index " + i + " was never set (no PUT before it)");
                }
                stack.add(memo.get(i));
            }
            // Containers: ordered, and immutable once read.
            case EMPTY_TUPLE -> stack.add(new PyTuple(List.of()));
            case TUPLE -> stack.add(new PyTuple(popMark()));
            case TUPLE1 -> stack.add(PyTuple.of(pop()));
            case TUPLE2 -> {
                Object b = pop();
                Object a = pop();
                stack.add(PyTuple.of(a, b));
            }
            case TUPLE3 -> {
                Object c = pop();
                Object b = pop();
                Object a = pop();
                stack.add(PyTuple.of(a, b, c));
            }
            case EMPTY_LIST -> stack.add(new java.util.ArrayList<>());
            case LIST -> stack.add(new java.util.ArrayList<>(popMark()));
            case EMPTY_DICT -> stack.add(new RawDict(io.torchbridge.reader.PyDict.DICT));
            case DICT -> {
                RawDict d = new RawDict(io.torchbridge.reader.PyDict.DICT);
                putAll(d.items, popMark());
                stack.add(d);
            }
            case SETITEM -> {
                Object value = pop();
                Object key = pop();
                putAll(dictOnTop(), java.util.Arrays.asList(key, value));
            }
            case SETITEMS -> {
                List<Object> kv = popMark();
                putAll(dictOnTop(), kv);
            }
            case APPEND -> {
                Object item = pop();
                listOnTop().add(item);
            }
            case APPENDS -> {
                List<Object> items = popMark();
                listOnTop().addAll(items);
            }
            case EMPTY_SET -> stack.add(new RawSet());
            case ADDITEMS -> {
                List<Object> items = popMark();
                if (!(peek() instanceof RawSet set)) {
                    throw error(Kind.MALFORMED, "ADDITEMS on a " + typeName(peek()) + ", not a set");
                }
                for (Object o : items) {
                    set.items.add(hashable(o));
                }
            }
            case FROZENSET -> {
                RawSet set = new RawSet();
                for (Object o : popMark()) {
                    set.items.add(hashable(o));
                }
                stack.add(set);
            }
            // Globals and calls: never resolved to code; see Calls.
            case GLOBAL -> stack.add(calls.global(in.module(), in.name()));
            case STACK_GLOBAL -> {
                Object name = pop();
                Object module = pop();
                if (!(module instanceof String m) || !(name instanceof String n)) {
                    throw error(Kind.MALFORMED, "STACK_GLOBAL needs two strings, got "
                            + typeName(module) + " and " + typeName(name));
                }
                stack.add(calls.global(m, n));
            }
            case INST -> {
                PyGlobal g = calls.global(in.module(), in.name());
                stack.add(calls.call(g, new PyTuple(popMark())));
            }
            case OBJ -> {
                List<Object> items = popMark();
                if (items.isEmpty()) {
                    throw error(Kind.MALFORMED, "OBJ without a class");
                }
                stack.add(calls.newObject(callable(items.get(0)), new PyTuple(items.subList(1, items.size()))));
            }
            case REDUCE -> {
                Object args = pop();
                Object fn = pop();
                stack.add(calls.call(callable(fn), tuple(args)));
            }
            case NEWOBJ -> {
                Object args = pop();
                Object cls = pop();
                stack.add(calls.newObject(callable(cls), tuple(args)));
            }
            case NEWOBJ_EX -> {
                Object kwargs = pop();
                Object args = pop();
                Object cls = pop();
                PyTuple a = tuple(args);
                if (kwargs instanceof RawDict kw && !kw.items.isEmpty()) {
                    throw error(Kind.UNSUPPORTED, "NEWOBJ_EX with keyword arguments");
                }
                stack.add(calls.newObject(callable(cls), a));
            }
            case BUILD -> {
                Object state = pop();
                calls.build(peek(), state);
            }
            case BINPERSID -> stack.add(calls.persistentLoad(pop()));
            case PERSID -> throw error(Kind.UNSUPPORTED, "text persistent ids (PERSID); PyTorch writes BINPERSID");
            case EXT1, EXT2, EXT4 -> throw error(Kind.UNSUPPORTED,
                    op + ": extension-registry codes (copyreg.add_extension) cannot be resolved without running Python");
            case NEXT_BUFFER, READONLY_BUFFER -> throw error(Kind.UNSUPPORTED,
                    op + ": out-of-band buffers (pickle protocol 5 buffer_callback) are not part of a checkpoint");
            case STOP -> throw new IllegalStateException("STOP is handled by read");
        }
    }

    // --- stack helpers -------------------------------------------------------------------------

    Object pop() throws CheckpointException {
        if (stack.size() == 0) {
            throw error(Kind.MALFORMED, op + " on an empty stack");
        }
        Object o = stack.pop();
        if (stack.isMark(o)) {
            throw error(Kind.MALFORMED, op + " found a MARK where it needs a value");
        }
        return o;
    }

    /** The value on top, which must not be a MARK (as in CPython, where a MARK hides what is below). */
    private Object peek() throws CheckpointException {
        if (stack.size() == 0) {
            throw error(Kind.MALFORMED, op + " on an empty stack");
        }
        Object o = stack.peek();
        if (stack.isMark(o)) {
            throw error(Kind.MALFORMED, op + " found a MARK where it needs a value");
        }
        return o;
    }

    private List<Object> popMark() throws CheckpointException {
        if (!stack.hasMark()) {
            throw error(Kind.MALFORMED, op + " without a MARK before it");
        }
        return java.util.Arrays.asList(stack.popSinceMark());
    }

    private Map<Object, Object> dictOnTop() throws CheckpointException {
        Object top = peek();
        if (top instanceof RawDict d) {
            return d.items;
        } else if (top instanceof RawObject o) {
            return o.dictItems; // an admitted dict subclass: its items are kept, not interpreted
        }
        throw error(Kind.MALFORMED, op + " on a " + typeName(top) + ", not a dict");
    }

    @SuppressWarnings("unchecked")
    private List<Object> listOnTop() throws CheckpointException {
        Object top = peek();
        if (top instanceof java.util.ArrayList<?> l) {
            return (List<Object>) l;
        } else if (top instanceof RawObject o) {
            return o.listItems; // an admitted list subclass
        }
        throw error(Kind.MALFORMED, op + " on a " + typeName(top) + ", not a list");
    }

    private void putAll(Map<Object, Object> d, List<Object> kv) throws CheckpointException {
        if (kv.size() % 2 != 0) {
            throw error(Kind.MALFORMED, op + " with an odd number of keys and values");
        }
        for (int i = 0; i < kv.size(); i += 2) {
            Object v = kv.get(i + 1);
            d.put(hashable(kv.get(i)), v);
        }
    }

    /** Python refuses unhashable keys; so do we (a mutable key would break the map). */
    private Object hashable(Object key) throws CheckpointException {
        if (key == null || key instanceof String || key instanceof Long || key instanceof BigInteger
                || key instanceof Double || key instanceof Boolean || key instanceof PyGlobal) {
            return key;
        }
        if (key instanceof PyTuple) {
            // Iterative, and depth-bounded: hashing a deeply nested tuple recurses in Java too.
            java.util.ArrayDeque<Object[]> todo = new java.util.ArrayDeque<>();
            todo.push(new Object[] {key, 0});
            while (!todo.isEmpty()) {
                Object[] e = todo.pop();
                int depth = (int) e[1];
                if (depth > options.maxNesting()) { // safety: pickle-key-nesting
                    throw error(Kind.LIMIT_EXCEEDED, op + ": a dict key nests tuples deeper than "
                            + options.maxNesting() + " levels (ReadOptions.maxNesting)");
                }
                if (e[0] instanceof PyTuple t) {
                    for (Object o : t.items()) {
                        todo.push(new Object[] {o, depth + 1});
                    }
                } else if (!(e[0] == null || e[0] instanceof String || e[0] instanceof Long
                        || e[0] instanceof BigInteger || e[0] instanceof Double || e[0] instanceof Boolean
                        || e[0] instanceof PyGlobal)) {
                    throw error(Kind.MALFORMED, op + ": a " + typeName(e[0]) + " cannot be part of a dict key");
                }
            }
            return key;
        }
        if (dcpMetadata && key instanceof RawObject o && Allowlist.isDcpMetadataGlobal(o.callable.module(),
                o.callable.name())) {
            return key; // MetadataIndex, storage_data's key: by identity (see forDcpMetadata)
        }
        throw error(Kind.MALFORMED, op + ": a " + typeName(key) + " cannot be a dict key or set item");
    }

    private PyGlobal callable(Object o) throws CheckpointException {
        if (o instanceof PyGlobal g) {
            return g;
        }
        throw error(Kind.UNSUPPORTED, op + " calls a " + typeName(o)
                + "; only globals named in the pickle can be called");
    }

    private PyTuple tuple(Object o) throws CheckpointException {
        if (o instanceof PyTuple t) {
            return t;
        }
        throw error(Kind.MALFORMED, op + " needs a tuple of arguments, got a " + typeName(o));
    }

    static String typeName(Object o) {
        if (o == null) {
            return "None";
        } else if (o instanceof RawDict d) {
            return d.pythonClass;
        } else if (o instanceof RawObject r) {
            return r.callable.fullName() + " object";
        } else if (o instanceof PyTuple) {
            return "tuple";
        } else if (o instanceof List) {
            return "list";
        } else if (o instanceof String) {
            return "str";
        } else if (o instanceof Long || o instanceof BigInteger) {
            return "int";
        } else if (o instanceof Double) {
            return "float";
        } else if (o instanceof Boolean) {
            return "bool";
        } else if (o instanceof byte[]) {
            return "bytes";
        } else if (o instanceof PyGlobal g) {
            return "global " + g.fullName();
        } else if (o instanceof TensorSpec) {
            return "tensor";
        } else if (o instanceof StorageRef) {
            return "storage";
        } else if (o instanceof RawSet) {
            return "set";
        }
        return o.getClass().getSimpleName();
    }

    /**
     * The memo, indexed as the pickle numbers it. Pickles number memo entries densely from 0, so
     * an array costs 8 bytes an entry where a HashMap costs about 50 (which decides whether a
     * memo-filling pickle exhausts a small heap). Sparse or huge indices, which only crafted
     * pickles use, go to a HashMap.
     */
    private static final class Memo {
        /** Indices below this may live in the array; above, only crafted pickles go. */
        static final int DENSE_LIMIT = 1 << 26;
        /** Marks an unset slot: null is a value (None). */
        private static final Object UNSET = new Object();
        private Object[] dense = filled(new Object[64], 0);
        private final java.util.HashMap<Long, Object> sparse = new java.util.HashMap<>();
        /** The indices some GET reads ({@link #fetchedIndices}), or null: keep every entry. */
        private final BitSet fetched;
        /** Entries put but not kept, because no GET reads them: counted, so that the size stays the pickle's. */
        private final BitSet dropped = new BitSet();
        private int size;

        Memo(BitSet fetched) {
            this.fetched = fetched;
        }

        private static Object[] filled(Object[] a, int from) {
            java.util.Arrays.fill(a, from, a.length, UNSET);
            return a;
        }

        void put(long key, Object value) {
            if (fetched != null && key >= 0 && key < DENSE_LIMIT && !fetched.get((int) key)) {
                if (!dropped.get((int) key)) {
                    dropped.set((int) key);
                    size++;
                }
                return;
            }
            if (key >= 0 && key < DENSE_LIMIT && key <= Math.max(2L * dense.length, 64)) {
                int k = (int) key;
                if (k >= dense.length) {
                    int old = dense.length;
                    dense = filled(java.util.Arrays.copyOf(dense, Math.max(k + 1, old * 2)), old);
                }
                if (dense[k] == UNSET) {
                    if (!sparse.isEmpty() && sparse.containsKey(key)) {
                        sparse.remove(key); // put sparsely before the array grew this far
                    } else {
                        size++;
                    }
                }
                dense[k] = value;
                return;
            }
            if (!sparse.containsKey(key)) {
                size++;
            }
            sparse.put(key, value);
        }

        boolean contains(long key) {
            return (key >= 0 && key < dense.length && dense[(int) key] != UNSET) || sparse.containsKey(key);
        }

        Object get(long key) {
            return key >= 0 && key < dense.length && dense[(int) key] != UNSET ? dense[(int) key] : sparse.get(key);
        }

        int size() {
            return size;
        }
    }

    /**
     * Pyrolite's stack, which keeps MARKs on the stack itself as a sentinel object; this subclass
     * exposes the sentinel and counts the MARKs, so a MARK is never taken for a value and a missing
     * MARK is an error, not a walk to the bottom.
     */
    private static final class Stack extends UnpickleStack {
        private static final long serialVersionUID = 1L;
        /**
         * Where each MARK on the stack sits, innermost last: a MARK's values are then taken in one
         * sized array. Pyrolite's pop_all_since_marker grows a list one value at a time, trims it
         * and reverses it, which for torch's SETITEMS batches of 1000 was a tenth of an open.
         */
        private int[] marks = new int[16];
        private int markCount;

        boolean isMark(Object o) {
            return o == MARKER;
        }

        boolean hasMark() {
            return markCount > 0;
        }

        @Override
        public void add_mark() {
            if (markCount == marks.length) {
                marks = java.util.Arrays.copyOf(marks, markCount * 2);
            }
            marks[markCount++] = size();
            super.add_mark();
        }

        @Override
        public Object pop() {
            Object o = super.pop();
            if (o == MARKER) {
                markCount--;
            }
            return o;
        }

        /** The values above the innermost MARK, bottom first; they and the MARK leave the stack. */
        Object[] popSinceMark() {
            int n = size() - marks[markCount - 1] - 1;
            Object[] values = new Object[n];
            for (int i = n - 1; i >= 0; i--) {
                values[i] = super.pop();
            }
            pop(); // the MARK itself
            return values;
        }

        @Override
        public void clear() {
            super.clear();
            markCount = 0;
        }
    }
}
