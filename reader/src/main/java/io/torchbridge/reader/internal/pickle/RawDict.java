package io.torchbridge.reader.internal.pickle;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A dict while the pickle is still filling it (SETITEMS, BUILD). Insertion order is kept, unlike
 * Pyrolite's HashMap. Becomes an immutable {@code PyDict} once the pickle is read.
 */
public final class RawDict {
    public final String pythonClass;
    /** A LinkedHashMap, so that the value tree can keep it as the frozen dict's own map. */
    public final LinkedHashMap<Object, Object> items = new LinkedHashMap<>();
    public final Map<String, Object> attributes = new LinkedHashMap<>();

    /** An empty dict of this class (the unpickler's, and a reader that merges several pickles' dicts). */
    public RawDict(String pythonClass) {
        this.pythonClass = pythonClass;
    }

    /** An empty dict of {@code pythonClass}, for a container that builds its tree without a pickle. */
    public static RawDict of(String pythonClass) {
        return new RawDict(pythonClass);
    }

    /** A plain {@code dict}, for a format that builds its object tree itself (DCP's nesting). */
    public static RawDict dict() {
        return new RawDict(io.torchbridge.reader.PyDict.DICT);
    }
}
