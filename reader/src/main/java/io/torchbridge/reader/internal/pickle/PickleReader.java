package io.torchbridge.reader.internal.pickle;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.reader.PyGlobal;
import io.torchbridge.reader.PyTuple;
import io.torchbridge.reader.ReadOptions;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import net.razorvine.pickle.UnpickleStack;
import net.razorvine.pickle.Unpickler;

/**
 * Reads one pickle into raw values (see package-info for which opcodes are Pyrolite's and which
 * are ours, and why). Not thread-safe; one instance per record.
 */
public final class PickleReader extends Unpickler {
    private final ReadOptions options;
    private final String record;
    private final Calls calls;
    private Input in;
    private Stack marks;
    private Op op;
    private long opOffset;

    public PickleReader(ReadOptions options, String record, StorageResolver storages) {
        this.options = options;
        this.record = record;
        this.calls = new Calls(this, options, storages);
    }

    /**
     * Throws the refusal of the first tensor read so far that cannot be read from its storage
     * (a view past its end, another dtype): for a caller that builds no value tree, which is where
     * such a tensor is refused under its name, and for one the tree never reaches.
     */
    public void refuseUnreadableTensors() throws CheckpointException {
        calls.refuseUnreadableTensors();
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
        in = new Input(data);
        input = in;
        marks = new Stack();
        stack = marks;
        memo = new DenseMemo();
        try {
            while (true) {
                opOffset = in.position();
                int b = in.read();
                if (b < 0) {
                    throw error(Kind.TRUNCATED, "the pickle ends without a STOP opcode");
                }
                op = Op.of(b);
                if (op == null) {
                    throw error(Kind.MALFORMED, String.format("unknown opcode 0x%02X", b));
                }
                if (op == Op.STOP) {
                    Object result = pop();
                    if (!allowTrailing && in.remaining() > 0) {
                        opOffset = in.position();
                        throw error(Kind.MALFORMED, in.remaining() + " bytes follow the pickle's STOP (a second "
                                + "pickle hidden behind the first?); torch.save never writes them");
                    }
                    return result;
                }
                step(op);
                if (stack.size() > options.maxStack()) {
                    throw error(Kind.LIMIT_EXCEEDED, "the stack holds more than " + options.maxStack()
                            + " items (ReadOptions.maxStack)");
                }
                if (memo.size() > options.maxMemo()) {
                    throw error(Kind.LIMIT_EXCEEDED, "the memo holds more than " + options.maxMemo()
                            + " entries (ReadOptions.maxMemo)");
                }
            }
        } catch (CheckpointException e) {
            throw e;
        } catch (IndexOutOfBoundsException e) {
            throw error(Kind.MALFORMED, op + " needs more values on the stack than there are").withCause(e);
        } catch (ClassCastException e) {
            throw error(Kind.MALFORMED, op + " found a value of the wrong type on the stack").withCause(e);
        } catch (IOException e) {
            Kind kind = in.remaining() == 0 ? Kind.TRUNCATED : Kind.MALFORMED;
            throw error(kind, op + ": " + e.getMessage()).withCause(e);
        } catch (RuntimeException e) {
            throw error(Kind.MALFORMED, op + ": " + e.getMessage()).withCause(e);
        } catch (StackOverflowError e) {
            throw error(Kind.LIMIT_EXCEEDED, op + " nests values too deeply for the thread's stack");
        } finally {
            stack = null;
            memo = null;
        }
    }

    /** An error at the current opcode. */
    CheckpointException error(Kind kind, String detail) {
        return CheckpointException.at(kind, record, opOffset, detail);
    }

    Op currentOp() {
        return op;
    }

    private void step(Op op) throws IOException, CheckpointException {
        switch (op) {
            // Values whose reading we check before allocating, or whose Java type we choose.
            case INT -> stack.add(textInt(digits(line())));
            case LONG -> stack.add(textInt(digits(stripSuffix(line(), "L"))));
            case FRAME -> {
                long n = in.int64();
                if (n < 0 || n > in.remaining()) {
                    throw error(Kind.TRUNCATED, "FRAME declares " + Long.toUnsignedString(n) + " bytes but only "
                            + in.remaining() + " remain in " + record);
                }
            }
            case BININT -> stack.add((long) in.int32());
            case BININT1 -> stack.add((long) in.readByte());
            case BININT2 -> stack.add((long) in.uint16());
            case LONG1 -> stack.add(longBytes(in.readByte()));
            case LONG4 -> stack.add(longBytes(in.int32()));
            case FLOAT -> stack.add(textFloat(line()));
            case BINSTRING -> stack.add(strict(bytes(in.int32())));
            case SHORT_BINSTRING -> stack.add(strict(bytes(in.readByte())));
            case BINUNICODE -> stack.add(unicode(bytes(in.uint32())));
            case SHORT_BINUNICODE -> stack.add(unicode(bytes(in.readByte())));
            case BINUNICODE8 -> stack.add(unicode(bytes(in.int64())));
            case BINBYTES -> stack.add(bytes(in.uint32()));
            case SHORT_BINBYTES -> stack.add(bytes(in.readByte()));
            case BINBYTES8, BYTEARRAY8 -> stack.add(bytes(in.int64()));
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
            case EMPTY_SET -> stack.add(new RawSet(false));
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
                RawSet set = new RawSet(true);
                for (Object o : popMark()) {
                    set.items.add(hashable(o));
                }
                stack.add(set);
            }
            // Globals and calls: never resolved to code; see Calls.
            case GLOBAL -> {
                String module = line();
                String name = line();
                stack.add(calls.global(module, name));
            }
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
                PyGlobal g = calls.global(line(), line());
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
            case POP -> pop();
            // The rest are Pyrolite's own: fixed-size operands, no allocation from file data.
            default -> super.dispatch((short) op.code);
        }
    }

    // --- stack helpers -------------------------------------------------------------------------

    Object pop() throws CheckpointException {
        if (stack.size() == 0) {
            throw error(Kind.MALFORMED, op + " on an empty stack");
        }
        Object o = stack.pop();
        if (marks.isMark(o)) {
            throw error(Kind.MALFORMED, op + " found a MARK where it needs a value");
        }
        return o;
    }

    private Object peek() throws CheckpointException {
        if (stack.size() == 0) {
            throw error(Kind.MALFORMED, op + " on an empty stack");
        }
        return stack.peek();
    }

    private List<Object> popMark() throws CheckpointException {
        if (!marks.hasMark()) {
            throw error(Kind.MALFORMED, op + " without a MARK before it");
        }
        return stack.pop_all_since_marker();
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
                if (depth > options.maxNesting()) {
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

    // --- operand readers -----------------------------------------------------------------------

    /** Reads {@code n} bytes, checking {@code n} against what is left before allocating. */
    private byte[] bytes(long n) throws CheckpointException {
        if (n < 0 && op == Op.BINSTRING) {
            throw error(Kind.MALFORMED, op + " declares a negative length (" + n + ")");
        }
        if (n < 0 || n > in.remaining()) {
            throw error(Kind.TRUNCATED, op + " declares " + Long.toUnsignedString(n) + " bytes but only "
                    + in.remaining() + " remain in " + record);
        }
        return in.readN((int) n);
    }

    /** A newline-terminated operand (text protocols, GLOBAL), bounded by the data left. */
    private String line() throws CheckpointException {
        int end = in.indexOf((byte) '\n');
        if (end < 0) {
            throw error(Kind.TRUNCATED, op + " operand has no terminating newline");
        }
        byte[] b = in.readN(end - in.position());
        in.read();
        String s = Utf8.decode(b);
        if (s == null) {
            throw error(Kind.MALFORMED, op + " operand is not UTF-8");
        }
        return s;
    }

    private String unicode(byte[] b) throws CheckpointException {
        String s = Utf8.decode(b);
        if (s == null) {
            throw error(Kind.MALFORMED, op + ": string is not valid UTF-8");
        }
        return s;
    }

    /** Python-2 str operands: torch.load decodes them as UTF-8, strictly. */
    private String strict(byte[] b) throws CheckpointException {
        var d = StandardCharsets.UTF_8.newDecoder();
        try {
            return d.decode(java.nio.ByteBuffer.wrap(b)).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw error(Kind.MALFORMED, op + ": string is not valid UTF-8");
        }
    }

    private Object longBytes(long n) throws CheckpointException {
        byte[] le = bytes(n);
        if (le.length == 0) {
            return 0L;
        }
        byte[] be = new byte[le.length];
        for (int i = 0; i < le.length; i++) {
            be[i] = le[le.length - 1 - i];
        }
        return normalize(new BigInteger(be));
    }

    /** Long where it fits, BigInteger beyond: Python ints have no size. */
    static Object normalize(BigInteger v) {
        return v.bitLength() < 64 ? (Object) v.longValue() : v;
    }

    /**
     * Text integers are parsed in time quadratic in their length; CPython refuses more than 4300
     * digits ({@code sys.int_info.str_digits_check_threshold}) for the same reason.
     */
    private String digits(String s) throws CheckpointException {
        if (s.length() > 4300) {
            throw error(Kind.LIMIT_EXCEEDED, op + " operand has " + s.length()
                    + " digits; CPython refuses integers over 4300 digits in text");
        }
        return s;
    }

    private Object textInt(String s) throws CheckpointException {
        if (s.equals("00")) {
            return Boolean.FALSE;
        } else if (s.equals("01")) {
            return Boolean.TRUE;
        }
        try {
            return normalize(new BigInteger(stripSuffix(s, "L")));
        } catch (NumberFormatException e) {
            throw error(Kind.MALFORMED, "INT operand '" + s + "' is not a number");
        }
    }

    private double textFloat(String s) throws CheckpointException {
        switch (s) {
            case "nan", "-nan":
                return Double.NaN;
            case "inf":
                return Double.POSITIVE_INFINITY;
            case "-inf":
                return Double.NEGATIVE_INFINITY;
            default:
                try {
                    return Double.parseDouble(s);
                } catch (NumberFormatException e) {
                    throw error(Kind.MALFORMED, "FLOAT operand '" + s + "' is not a number");
                }
        }
    }

    private static String stripSuffix(String s, String suffix) {
        return s.endsWith(suffix) ? s.substring(0, s.length() - suffix.length()) : s;
    }

    /**
     * The memo as an array: pickles number memo entries densely from 0, so this costs 8 bytes an
     * entry where a HashMap costs about 50 (which decides whether a memo-filling pickle exhausts a
     * small heap). Sparse or huge indices, which only crafted pickles use, go to a HashMap.
     */
    private static final class DenseMemo extends java.util.AbstractMap<Integer, Object> {
        private Object[] dense = new Object[64];
        private boolean[] set = new boolean[64];
        private final java.util.HashMap<Integer, Object> sparse = new java.util.HashMap<>();
        private int size;

        @Override
        public Object put(Integer key, Object value) {
            int k = key;
            if (k >= 0 && k < (1 << 26) && k <= Math.max(2 * dense.length, 64)) {
                if (k >= dense.length) {
                    int n = Math.max(k + 1, dense.length * 2);
                    dense = java.util.Arrays.copyOf(dense, n);
                    set = java.util.Arrays.copyOf(set, n);
                }
                Object old = dense[k];
                if (!set[k]) {
                    set[k] = true;
                    size++;
                }
                dense[k] = value;
                return old;
            }
            boolean had = sparse.containsKey(key);
            Object old = sparse.put(key, value);
            if (!had) {
                size++;
            }
            return old;
        }

        @Override
        public Object get(Object key) {
            int k = (Integer) key;
            if (k >= 0 && k < dense.length && set[k]) {
                return dense[k];
            }
            return sparse.get(key);
        }

        @Override
        public boolean containsKey(Object key) {
            int k = (Integer) key;
            return (k >= 0 && k < dense.length && set[k]) || sparse.containsKey(key);
        }

        @Override
        public int size() {
            return size;
        }

        @Override
        public void clear() {
            dense = new Object[64];
            set = new boolean[64];
            sparse.clear();
            size = 0;
        }

        @Override
        public java.util.Set<Entry<Integer, Object>> entrySet() {
            throw new UnsupportedOperationException("the memo is only looked up by index");
        }
    }

    /** Exposes Pyrolite's MARK sentinel, so a MARK is never taken for a value. */
    private static final class Stack extends UnpickleStack {
        private static final long serialVersionUID = 1L;
        private int markCount;

        boolean isMark(Object o) {
            return o == MARKER;
        }

        boolean hasMark() {
            return markCount > 0;
        }

        @Override
        public void add_mark() {
            super.add_mark();
            markCount++;
        }

        @Override
        public Object pop() {
            Object o = super.pop();
            if (o == MARKER) {
                markCount--;
            }
            return o;
        }

        @Override
        public void clear() {
            super.clear();
            markCount = 0;
        }
    }

    /** The pickle bytes, with the position and remaining count the checks above need. */
    private static final class Input extends InputStream {
        private final byte[] data;
        private int pos;

        Input(byte[] data) {
            this.data = data;
        }

        int position() {
            return pos;
        }

        int remaining() {
            return data.length - pos;
        }

        @Override
        public int read() {
            return pos < data.length ? data[pos++] & 0xFF : -1;
        }

        @Override
        public int read(byte[] b, int off, int len) {
            if (pos >= data.length) {
                return -1;
            }
            int n = Math.min(len, data.length - pos);
            System.arraycopy(data, pos, b, off, n);
            pos += n;
            return n;
        }

        int indexOf(byte b) {
            for (int i = pos; i < data.length; i++) {
                if (data[i] == b) {
                    return i;
                }
            }
            return -1;
        }

        byte[] readN(int n) {
            byte[] b = java.util.Arrays.copyOfRange(data, pos, pos + n);
            pos += n;
            return b;
        }

        private void need(int n) throws java.io.EOFException {
            if (remaining() < n) {
                throw new java.io.EOFException("the operand needs " + n + " bytes but only "
                        + remaining() + " remain");
            }
        }

        int readByte() throws java.io.EOFException {
            need(1);
            return data[pos++] & 0xFF;
        }

        int uint16() throws java.io.EOFException {
            need(2);
            int v = (data[pos] & 0xFF) | (data[pos + 1] & 0xFF) << 8;
            pos += 2;
            return v;
        }

        int int32() throws java.io.EOFException {
            need(4);
            int v = (data[pos] & 0xFF) | (data[pos + 1] & 0xFF) << 8 | (data[pos + 2] & 0xFF) << 16
                    | (data[pos + 3] & 0xFF) << 24;
            pos += 4;
            return v;
        }

        long uint32() throws java.io.EOFException {
            return int32() & 0xFFFFFFFFL;
        }

        long int64() throws java.io.EOFException {
            long lo = uint32();
            long hi = uint32();
            return lo | hi << 32;
        }
    }
}
