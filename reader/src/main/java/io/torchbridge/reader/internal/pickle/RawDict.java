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

    RawDict(String pythonClass) {
        this.pythonClass = pythonClass;
    }

    /** An empty dict of class {@code pythonClass}, for a container format that builds its root itself (.npz). */
    public static RawDict of(String pythonClass) {
        return new RawDict(pythonClass);
    }
}
