package io.torchbridge.reader;

import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.reader.internal.pickle.RawDict;
import io.torchbridge.reader.internal.pickle.RawObject;
import io.torchbridge.reader.internal.pickle.RawSet;
import io.torchbridge.reader.internal.pickle.StorageRef;
import io.torchbridge.reader.internal.pickle.TensorSpec;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Turns the unpickler's raw values into the public immutable ones, keeping sharing (an object
 * reached twice is one object), and names every node by its path: dict keys joined with '.',
 * list and tuple indices in decimal.
 */
final class ValueTree {
    private final ReadOptions options;
    private final String record;
    private final Map<Object, Object> frozen = new IdentityHashMap<>();
    private final Set<Object> inProgress = Collections.newSetFromMap(new IdentityHashMap<>());
    final Map<String, Object> nodes = new LinkedHashMap<>();
    final Map<String, Tensor> tensors = new LinkedHashMap<>();
    private long visits;

    ValueTree(ReadOptions options, String record) {
        this.options = options;
        this.record = record;
    }

    Object build(Object raw) throws CheckpointException {
        Object root = freeze(raw, 0);
        name("", root, 0);
        return root;
    }

    private Object freeze(Object raw, int depth) throws CheckpointException {
        if (raw == null || raw instanceof String || raw instanceof Long || raw instanceof BigInteger
                || raw instanceof Double || raw instanceof Boolean || raw instanceof byte[]
                || raw instanceof PyGlobal || raw instanceof PyComplex) {
            return raw;
        }
        Object done = frozen.get(raw);
        if (done != null) {
            return done;
        }
        if (depth > options.maxNesting()) {
            throw CheckpointException.at(Kind.LIMIT_EXCEEDED, record, -1, "containers nest deeper than "
                    + options.maxNesting() + " levels (ReadOptions.maxNesting)");
        }
        if (!inProgress.add(raw)) {
            throw CheckpointException.at(Kind.MALFORMED, record, -1,
                    "a container contains itself; checkpoints hold no cycles");
        }
        Object out;
        if (raw instanceof ArrayList<?> list) {
            List<Object> items = new ArrayList<>(list.size());
            for (Object o : list) {
                items.add(freeze(o, depth + 1));
            }
            out = Collections.unmodifiableList(items);
        } else if (raw instanceof PyTuple t) {
            List<Object> items = new ArrayList<>(t.size());
            for (Object o : t.items()) {
                items.add(freeze(o, depth + 1));
            }
            out = new PyTuple(items);
        } else if (raw instanceof RawDict d) {
            Map<Object, Object> items = new LinkedHashMap<>();
            for (Map.Entry<Object, Object> e : d.items.entrySet()) {
                items.put(freeze(e.getKey(), depth + 1), freeze(e.getValue(), depth + 1));
            }
            Map<String, Object> attrs = new LinkedHashMap<>();
            for (Map.Entry<String, Object> e : d.attributes.entrySet()) {
                attrs.put(e.getKey(), freeze(e.getValue(), depth + 1));
            }
            out = new PyDict(d.pythonClass, items, attrs);
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
            out = new PyObject(o.callable, (PyTuple) freeze(o.args, depth + 1), freeze(o.state, depth + 1),
                    listItems, dictItems);
        } else if (raw instanceof TensorSpec t) {
            out = tensor(t);
        } else if (raw instanceof StorageRef s) {
            out = s.info();
        } else {
            throw CheckpointException.at(Kind.MALFORMED, record, -1, "the pickle leaves a "
                    + raw.getClass().getSimpleName() + " where a value belongs (a MARK used as a value?)");
        }
        inProgress.remove(raw);
        frozen.put(raw, out);
        return out;
    }

    private static Tensor tensor(TensorSpec t) {
        TensorInfo info = new TensorInfo(t.dtype, Shape.of(t.shape), Shape.of(t.stride), t.offset,
                t.requiresGrad, t.parameter, t.conj, t.neg, t.storage.info());
        return new Tensor(info, t.storage.region());
    }

    /** Pre-order walk giving every node its path. A node reached twice gets both paths. */
    private void name(String path, Object value, int depth) throws CheckpointException {
        if (++visits > options.maxStack()) {
            throw CheckpointException.at(Kind.LIMIT_EXCEEDED, record, -1, "the object tree has more than "
                    + options.maxStack() + " paths (shared containers repeated?) (ReadOptions.maxStack)");
        }
        nodes.putIfAbsent(path, value);
        if (value instanceof Tensor t) {
            t.name(path);
            tensors.putIfAbsent(path, t);
        } else if (value instanceof PyDict d) {
            for (Map.Entry<Object, Object> e : d.items().entrySet()) {
                name(child(path, PyRepr.key(e.getKey())), e.getValue(), depth + 1);
            }
        } else if (value instanceof List<?> l) {
            for (int i = 0; i < l.size(); i++) {
                name(child(path, Integer.toString(i)), l.get(i), depth + 1);
            }
        } else if (value instanceof PyTuple t) {
            for (int i = 0; i < t.size(); i++) {
                name(child(path, Integer.toString(i)), t.get(i), depth + 1);
            }
        } else if (value instanceof PyObject o) {
            nameObject(path, o, depth);
        }
    }

    /**
     * An inert object's parts get attribute paths. A pickled {@code nn.Module} (its state holds
     * {@code _parameters}, {@code _buffers} and {@code _modules}) is named as its
     * {@code state_dict()} would be: {@code fc1.weight}, {@code bn.running_mean}.
     */
    private void nameObject(String path, PyObject o, int depth) throws CheckpointException {
        Object state = o.state();
        if (state instanceof PyTuple t && t.size() == 2) {
            nameAttributes(path, t.get(0), depth);
            nameAttributes(path, t.get(1), depth);
        } else {
            nameAttributes(path, state, depth);
        }
        for (int i = 0; i < o.listItems().size(); i++) {
            name(child(path, Integer.toString(i)), o.listItems().get(i), depth + 1);
        }
        for (Map.Entry<Object, Object> e : o.dictItems().entrySet()) {
            name(child(path, PyRepr.key(e.getKey())), e.getValue(), depth + 1);
        }
    }

    private void nameAttributes(String path, Object state, int depth) throws CheckpointException {
        if (!(state instanceof PyDict d)) {
            return;
        }
        boolean module = d.items().containsKey("_parameters") && d.items().containsKey("_modules");
        for (Map.Entry<Object, Object> e : d.items().entrySet()) {
            String key = PyRepr.key(e.getKey());
            if (module && (key.equals("_parameters") || key.equals("_buffers") || key.equals("_modules"))
                    && e.getValue() instanceof PyDict members) {
                for (Map.Entry<Object, Object> m : members.items().entrySet()) {
                    name(child(path, PyRepr.key(m.getKey())), m.getValue(), depth + 1);
                }
            } else {
                name(child(path, key), e.getValue(), depth + 1);
            }
        }
    }

    private static String child(String path, String key) {
        return path.isEmpty() ? key : path + "." + key;
    }
}
