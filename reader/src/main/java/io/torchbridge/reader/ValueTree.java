package io.torchbridge.reader;

import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.reader.internal.pickle.RawDict;
import io.torchbridge.reader.internal.pickle.RawObject;
import io.torchbridge.reader.internal.pickle.RawSet;
import io.torchbridge.reader.internal.pickle.StorageRef;
import io.torchbridge.reader.internal.pickle.TensorSpec;
import java.math.BigInteger;
import java.util.AbstractMap.SimpleImmutableEntry;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Turns the unpickler's raw values into the public immutable ones, keeping sharing (an object
 * reached twice is one object), and names every tensor by its path: dict keys joined with '.',
 * list and tuple indices in decimal. Other values are found by path on demand ({@link #lookup}),
 * so a tree of shared containers (a "billion laughs" pickle) costs no more than its objects.
 */
final class ValueTree {
    /** A tensor reached under more paths than this is a shared-container bomb, not a checkpoint. */
    static final int MAX_PATHS_PER_TENSOR = 64;

    private final ReadOptions options;
    private final String record;
    // The maps only freezing needs are dropped once the tree is frozen (see build): they hold the
    // raw tree, which for 200k tensors is a third of the heap an open takes.
    private Map<Object, Object> frozen = new IdentityHashMap<>();
    private Set<Object> inProgress = Collections.newSetFromMap(new IdentityHashMap<>());
    /** Containers (frozen) that hold a tensor somewhere below them. */
    private final Set<Object> holdsTensor = Collections.newSetFromMap(new IdentityHashMap<>());
    /** Per frozen container: the values a walk below it meets, shared containers counted again. */
    private Map<Object, Long> expanded = new IdentityHashMap<>();
    /** Every tensor by name, in the order named; sized once the tensors are counted (build). */
    Map<String, Tensor> tensors = new LinkedHashMap<>();
    /**
     * Every (name, tensor) the walk gives, in order, once a name has come twice (two paths whose
     * keys join to one name: {@code {'x.y': {'z': t}, 'x': {'y.z': t2}}}); null until then, when
     * {@link #tensors} lists them all. Kept only then so that an ordinary open pays nothing.
     */
    List<TensorEntry> entries;
    /** Names that two paths give to different tensors, in the order met. */
    final Set<String> ambiguous = new LinkedHashSet<>();
    /** Tensor-like objects the reader cannot represent, each under its name, in the order met. */
    final List<UnreadableTensor> unreadable = new ArrayList<>();
    private int tensorCount;
    private final Map<Shape, Shape> shapes = new HashMap<>();
    /** Tensors that cannot be read from their storage, in the order met; see {@link Refused}. */
    private final List<Refused> refused = new ArrayList<>();

    /**
     * Stands in the tree for a tensor whose view cannot be read ({@link TensorSpec#refusal}):
     * naming it throws its refusal under its name, and the tree is never handed out while one is
     * in it, so such a tensor is never exposed.
     */
    private record Refused(CheckpointException error) {
    }

    ValueTree(ReadOptions options, String record) {
        this.options = options;
        this.record = record;
    }

    Object build(Object raw) throws CheckpointException {
        return build(() -> raw);
    }

    /**
     * Builds the tree of the raw root that {@code raw} hands over; when the caller keeps no other
     * reference to it (see {@link io.torchbridge.reader.internal.format.Unpickled#takeRoot()}),
     * the raw tree can be collected while the tensors are named.
     */
    Object build(java.util.function.Supplier<Object> raw) throws CheckpointException {
        return build(raw, null);
    }

    /**
     * As {@link #build(java.util.function.Supplier)}, but where {@code names} is not null the
     * tensors are those it lists, under its names and in its order (a TorchScript archive's
     * {@code state_dict()}), not the tree's paths; each listed raw tensor must be in the tree.
     */
    Object build(java.util.function.Supplier<Object> raw, List<Map.Entry<String, Object>> names)
            throws CheckpointException {
        try {
            Object root = freeze(raw.get(), 0);
            List<Map.Entry<String, Object>> listed = null;
            if (names != null) {
                listed = new ArrayList<>(names.size());
                for (Map.Entry<String, Object> e : names) {
                    // a spec keeps what it froze to (freeze); anything else is in the frozen map
                    Object t = e.getValue() instanceof TensorSpec spec ? spec.frozen : frozen.get(e.getValue());
                    if (t == null) {
                        throw new IllegalStateException("a named tensor is not in the tree: " + e.getKey());
                    }
                    listed.add(new SimpleImmutableEntry<>(e.getKey(), t));
                }
            }
            frozen = null;
            inProgress = null;
            expanded = null;
            shapes.clear();
            tensors = new LinkedHashMap<>(capacity(listed != null ? listed.size() : tensorCount));
            if (listed != null) {
                for (Map.Entry<String, Object> e : listed) {
                    nameTensor(e.getKey(), e.getValue());
                }
            } else {
                name("", root);
            }
            if (!refused.isEmpty()) {
                // reached only where no name is given (an inert call's arguments)
                throw refused.get(0).error();
            }
            return root;
        } catch (StackOverflowError e) {
            throw CheckpointException.at(Kind.LIMIT_EXCEEDED, record, -1,
                    "the object tree nests too deeply for the thread's stack (lower ReadOptions.maxNesting)");
        }
    }

    private Object freeze(Object raw, int depth) throws CheckpointException {
        if (raw == null || raw instanceof String || raw instanceof Long || raw instanceof BigInteger
                || raw instanceof Double || raw instanceof Boolean || raw instanceof byte[]
                || raw instanceof PyGlobal || raw instanceof PyComplex) {
            return raw;
        }
        // Leaves: they hold no containers, so they need no cycle or nesting check and count one
        // node (no entry in expanded). A spec keeps what it froze to, so that a tensor reached
        // twice is one Tensor, and a storage's info is one object already: most of a checkpoint's
        // values are tensors, and an identity map entry each was a tenth of an open.
        if (raw instanceof TensorSpec t) {
            if (t.frozen == null) {
                t.frozen = t.refusal != null ? refuse(t) : tensor(t);
            }
            return t.frozen;
        }
        if (raw instanceof StorageRef r) {
            return r.info();
        }
        Object done = frozen.get(raw);
        if (done != null) {
            return done;
        }
        if (depth > options.maxNesting()) { // safety: tree-max-nesting
            throw CheckpointException.at(Kind.LIMIT_EXCEEDED, record, -1, "containers nest deeper than "
                    + options.maxNesting() + " levels (ReadOptions.maxNesting)");
        }
        if (!inProgress.add(raw)) { // safety: tree-no-cycles
            throw CheckpointException.at(Kind.MALFORMED, record, -1,
                    "a container contains itself; checkpoints hold no cycles");
        }
        Object out;
        boolean tensorBelow = false;
        if (raw instanceof ArrayList<?> list) {
            List<Object> items = new ArrayList<>(list.size());
            for (Object o : list) {
                items.add(freeze(o, depth + 1));
            }
            tensorBelow = anyTensor(items);
            out = Collections.unmodifiableList(items);
        } else if (raw instanceof PyTuple t) {
            List<Object> items = new ArrayList<>(t.size());
            for (Object o : t.items()) {
                items.add(freeze(o, depth + 1));
            }
            tensorBelow = anyTensor(items);
            out = new PyTuple(items);
        } else if (raw instanceof RawDict d) {
            LinkedHashMap<Object, Object> items;
            if (keysFreezeToThemselves(d.items)) {
                // The raw dict's own map becomes the frozen one, its values frozen in place: a
                // state_dict's one dict holds every tensor, and building a second map of 100k
                // entries was a tenth of an open. The raw tree is dropped after freezing, and a
                // raw dict reached again gets its frozen dict from the frozen map, so nothing
                // sees the map half raw.
                items = d.items;
                for (Map.Entry<Object, Object> e : items.entrySet()) {
                    e.setValue(freeze(e.getValue(), depth + 1));
                }
            } else {
                items = new LinkedHashMap<>(capacity(d.items.size()));
                for (Map.Entry<Object, Object> e : d.items.entrySet()) {
                    items.put(freeze(e.getKey(), depth + 1), freeze(e.getValue(), depth + 1));
                }
            }
            LinkedHashMap<String, Object> attrs = new LinkedHashMap<>();
            for (Map.Entry<String, Object> e : d.attributes.entrySet()) {
                attrs.put(e.getKey(), freeze(e.getValue(), depth + 1));
            }
            tensorBelow = anyTensor(items.values());
            out = PyDict.owning(d.pythonClass, items, attrs);
        } else if (raw instanceof RawSet s) {
            Set<Object> items = new LinkedHashSet<>();
            for (Object o : s.items) {
                items.add(freeze(o, depth + 1));
            }
            out = Collections.unmodifiableSet(items);
        } else if (raw instanceof RawObject o) {
            List<Object> listItems = new ArrayList<>(o.listItems.size());
            for (Object x : o.listItems) {
                listItems.add(freeze(x, depth + 1));
            }
            Map<Object, Object> dictItems = new LinkedHashMap<>();
            for (Map.Entry<Object, Object> e : o.dictItems.entrySet()) {
                dictItems.put(freeze(e.getKey(), depth + 1), freeze(e.getValue(), depth + 1));
            }
            PyObject p = new PyObject(o.callable, (PyTuple) freeze(o.args, depth + 1), freeze(o.state, depth + 1),
                    listItems, dictItems);
            boolean[] any = {false};
            forEachChild(p, (k, v) -> any[0] |= isOrHoldsTensor(v));
            // a tensor this version cannot represent counts as one, so the naming walk reaches it
            tensorBelow = any[0] || UnreadableTensor.isTensorLike(p.callable());
            out = p;
        } else {
            throw CheckpointException.at(Kind.MALFORMED, record, -1, "the pickle leaves a "
                    + raw.getClass().getSimpleName() + " where a value belongs (a MARK used as a value?)");
        }
        inProgress.remove(raw);
        frozen.put(raw, out);
        long[] counted = {1};
        forEachChild(out, (k, v) -> {
            Long below = v == null ? null : expanded.get(v);
            counted[0] = Math.min(Long.MAX_VALUE / 2, counted[0] + (below == null ? 1 : below));
        });
        long size = counted[0];
        expanded.put(out, size);
        if (size > options.maxTreeNodes()) { // safety: tree-max-nodes
            throw CheckpointException.at(Kind.LIMIT_EXCEEDED, record, -1, "the object tree expands to more than "
                    + options.maxTreeNodes() + " values through containers shared over and over (a 'billion laughs' "
                    + "pickle) (ReadOptions.maxTreeNodes)");
        }
        if (tensorBelow) {
            holdsTensor.add(out);
        }
        return out;
    }

    /** A hash map capacity that holds {@code n} entries without a resize (at the default load factor). */
    static int capacity(int n) {
        return n < 3 ? n + 1 : (int) Math.min(1 << 30, n / 3L * 4 + 4);
    }

    private Refused refuse(TensorSpec t) {
        Refused r = new Refused(t.refusal);
        refused.add(r);
        return r;
    }

    private boolean anyTensor(Iterable<?> values) {
        for (Object v : values) {
            if (isOrHoldsTensor(v)) {
                return true;
            }
        }
        return false;
    }

    private boolean isOrHoldsTensor(Object v) {
        return v instanceof Tensor || v instanceof Refused || (v != null && holdsTensor.contains(v));
    }

    /** Keys that freezing leaves as they are (all but tuples, which become new PyTuples). */
    private static boolean keysFreezeToThemselves(Map<Object, Object> items) {
        for (Object k : items.keySet()) {
            if (k instanceof PyTuple) {
                return false;
            }
        }
        return true;
    }

    private Tensor tensor(TensorSpec t) throws CheckpointException {
        tensorCount++;
        TensorInfo info = new TensorInfo(t.dtype, shape(t.shape), shape(t.stride), t.offset,
                t.requiresGrad, t.parameter, t.conj, t.neg, t.storage.info(), t.layout);
        if (t.assembly != null) {
            return new Tensor(info, t.assembly);
        }
        if (t.parts == null && t.quant == null) {
            return new Tensor(info, t.storage.region(), t.storage.stored());
        }
        // Components are tensors in their own right (shared ones stay one object), but leaves of
        // this tensor: the walk that names tensors never enters them.
        Map<String, Tensor> parts = new LinkedHashMap<>();
        if (t.parts != null) {
            for (Map.Entry<String, TensorSpec> e : t.parts.entrySet()) {
                parts.put(e.getKey(), (Tensor) freeze(e.getValue(), 0));
            }
        }
        Quantization q = null;
        if (t.quant != null) {
            q = t.quant.scales() == null ? new Quantization.PerTensor(t.quant.scale(), t.quant.zeroPoint())
                    : new Quantization.PerChannel(t.quant.scheme(), (Tensor) freeze(t.quant.scales(), 0),
                    (Tensor) freeze(t.quant.zeroPoints(), 0), t.quant.axis());
        }
        return new Tensor(info, t.storage.region(), t.parts == null ? t.storage.stored() : null, q,
                Collections.unmodifiableMap(parts), t.coalesced);
    }

    /**
     * One {@link Shape} per distinct shape or stride: models repeat a few shapes over thousands of
     * tensors, and a Shape with its array costs 40 bytes a copy.
     */
    private Shape shape(long[] dims) {
        Shape s = Shape.of(dims);
        Shape known = shapes.putIfAbsent(s, s);
        return known != null ? known : s;
    }

    /** Pre-order walk giving every tensor each path it is reached by; only containers that hold tensors are entered. */
    private void name(String path, Object value) throws CheckpointException {
        if (value instanceof Refused || value instanceof Tensor) {
            nameTensor(path, value);
        } else if (value instanceof PyObject o && UnreadableTensor.isTensorLike(o.callable())) {
            // named, never skipped: its parts (a sparse tensor's indices, ...) are not its values
            unreadable.add(UnreadableTensor.of(path, o));
        } else if (value != null && holdsTensor.contains(value)) {
            forEachChild(value, (k, v) -> name(child(path, k), v));
        }
    }

    /** Gives the tensor (or refusal) {@code value} the name {@code path}. */
    private void nameTensor(String path, Object value) throws CheckpointException {
        if (value instanceof Refused r) {
            throw r.error().forTensor(path);
        }
        if (value instanceof Tensor t) {
            int n = ++t.paths; // a field of the tensor: a map would cost 40 bytes per tensor
            if (n > MAX_PATHS_PER_TENSOR) { // safety: tree-max-paths-per-tensor
                throw CheckpointException.at(Kind.LIMIT_EXCEEDED, record, -1, "reached under more than "
                        + MAX_PATHS_PER_TENSOR + " paths: containers shared over and over (a 'billion laughs' "
                        + "pickle), which no checkpoint needs").forTensor(t.name());
            }
            t.name(path);
            Tensor before = tensors.putIfAbsent(path, t);
            if (before != null && entries == null) {
                // the first name given twice: from here on every entry is kept, in order
                entries = new ArrayList<>(tensors.size() + 16);
                tensors.forEach((k, x) -> entries.add(new TensorEntry(k, x)));
            }
            if (entries != null) {
                entries.add(new TensorEntry(path, t));
            }
            if (before != null && before != t) {
                ambiguous.add(path);
            }
            t.nameComponents();
        }
    }

    /**
     * Every sequence of child keys from {@code root} that reaches a value named {@code name}
     * (keys joined with '.'), in pre-order: two or more where paths collide on one name.
     */
    static List<List<String>> paths(Object root, String name) {
        List<List<String>> out = new ArrayList<>();
        paths(root, name, new ArrayList<>(), out);
        return out;
    }

    private static void paths(Object node, String rest, List<String> keys, List<List<String>> out) {
        for (Map.Entry<String, Object> c : children(node)) {
            String k = c.getKey();
            if (rest.equals(k)) {
                List<String> found = new ArrayList<>(keys);
                found.add(k);
                out.add(List.copyOf(found));
            } else if (rest.startsWith(k) && rest.length() > k.length() && rest.charAt(k.length()) == '.') {
                keys.add(k);
                paths(c.getValue(), rest.substring(k.length() + 1), keys, out);
                keys.remove(keys.size() - 1);
            }
        }
    }

    /** The value reached by the child keys {@code keys} from {@code root}, or {@link #ABSENT}. */
    static Object at(Object root, List<String> keys) {
        Object node = root;
        for (String k : keys) {
            Object next = ABSENT;
            for (Map.Entry<String, Object> c : children(node)) {
                if (c.getKey().equals(k)) {
                    next = c.getValue();
                    break;
                }
            }
            if (next == ABSENT) {
                return ABSENT;
            }
            node = next;
        }
        return node;
    }

    /** The value at {@code path}, or {@link #ABSENT}: the first match in pre-order, as names are given. */
    static Object lookup(Object root, String path) {
        if (path.isEmpty()) {
            return root;
        }
        for (Map.Entry<String, Object> c : children(root)) {
            String k = c.getKey();
            if (path.equals(k)) {
                return c.getValue();
            }
            if (path.startsWith(k) && path.length() > k.length() && path.charAt(k.length()) == '.') {
                Object found = lookup(c.getValue(), path.substring(k.length() + 1));
                if (found != ABSENT) {
                    return found;
                }
            }
        }
        return ABSENT;
    }

    /**
     * Every value below {@code root} that is neither a tensor nor a container with children, by
     * its path (as {@link #lookup} finds it), in pre-order: dict items, list and tuple items and an
     * object's attributes are walked; an empty dict, list or tuple and an object with no attributes
     * are values themselves. A path that two walks give keeps its first value, as lookup does.
     * A tensor this version cannot represent (an inert {@code _rebuild_*} call) is left out: it is
     * listed as unreadable.
     */
    static Map<String, Object> values(Object root) {
        Map<String, Object> out = new LinkedHashMap<>();
        try {
            values("", root, out);
        } catch (CheckpointException e) {
            throw new IllegalStateException("collecting values throws nothing", e);
        }
        return out;
    }

    private static void values(String path, Object node, Map<String, Object> out) throws CheckpointException {
        if (node instanceof Tensor || node instanceof PyObject o && UnreadableTensor.isTensorLike(o.callable())) {
            return;
        }
        boolean[] any = {false};
        if (node instanceof PyDict || node instanceof List<?> || node instanceof PyTuple || node instanceof PyObject) {
            forEachChild(node, (k, v) -> {
                any[0] = true;
                values(child(path, k), v, out);
            });
        }
        if (!any[0]) {
            out.putIfAbsent(path, node);
        }
    }

    /** Returned by {@link #lookup} for a path that names nothing. */
    static final Object ABSENT = new Object();

    /** Receives a node's children one at a time ({@link #forEachChild}). */
    @FunctionalInterface
    interface ChildVisitor {
        void visit(String key, Object value) throws CheckpointException;
    }

    /** A node's named children, in order, as a list (see {@link #forEachChild}). */
    static List<Map.Entry<String, Object>> children(Object node) {
        List<Map.Entry<String, Object>> out = new ArrayList<>();
        try {
            forEachChild(node, (k, v) -> out.add(new SimpleImmutableEntry<>(k, v)));
        } catch (CheckpointException e) {
            throw new IllegalStateException("collecting children throws nothing", e);
        }
        return out;
    }

    /**
     * Visits a node's named children, in order: dict items by key, list and tuple items by index,
     * and an inert object's parts. A pickled {@code nn.Module} (its state holds {@code _parameters},
     * {@code _buffers} and {@code _modules}) is named as its {@code state_dict()} would be. A visit
     * rather than a list: the open walks every container twice, and an entry object per child was
     * a tenth of the work for a state_dict of 100k tensors.
     */
    static void forEachChild(Object node, ChildVisitor v) throws CheckpointException {
        if (node instanceof PyDict d) {
            for (Map.Entry<Object, Object> e : d.ownItems().entrySet()) {
                v.visit(PyRepr.key(e.getKey()), e.getValue());
            }
        } else if (node instanceof List<?> l) {
            for (int i = 0; i < l.size(); i++) {
                v.visit(Integer.toString(i), l.get(i));
            }
        } else if (node instanceof PyTuple t) {
            for (int i = 0; i < t.size(); i++) {
                v.visit(Integer.toString(i), t.get(i));
            }
        } else if (node instanceof PyObject o) {
            if (o.state() instanceof PyTuple t && t.size() == 2) {
                attributes(t.get(0), v);
                attributes(t.get(1), v);
            } else {
                attributes(o.state(), v);
            }
            for (int i = 0; i < o.listItems().size(); i++) {
                v.visit(Integer.toString(i), o.listItems().get(i));
            }
            for (Map.Entry<Object, Object> e : o.dictItems().entrySet()) {
                v.visit(PyRepr.key(e.getKey()), e.getValue());
            }
        }
    }

    private static void attributes(Object state, ChildVisitor v) throws CheckpointException {
        if (!(state instanceof PyDict d)) {
            return;
        }
        Map<Object, Object> items = d.ownItems();
        boolean module = items.containsKey("_parameters") && items.containsKey("_modules");
        for (Map.Entry<Object, Object> e : items.entrySet()) {
            String key = PyRepr.key(e.getKey());
            if (module && (key.equals("_parameters") || key.equals("_buffers") || key.equals("_modules"))
                    && e.getValue() instanceof PyDict members) {
                for (Map.Entry<Object, Object> m : members.ownItems().entrySet()) {
                    v.visit(PyRepr.key(m.getKey()), m.getValue());
                }
            } else {
                v.visit(key, e.getValue());
            }
        }
    }

    private static String child(String path, String key) {
        return path.isEmpty() ? key : path + "." + key;
    }
}
