package io.torchbridge.reader;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * An inert record of a call the pickle asked for and the reader did not perform: the callable or
 * class, its arguments, and the state a later BUILD gave it (or {@code null}). Nothing is
 * constructed or executed. The reader returns these for globals that are admitted but have no
 * plain-data meaning here (for example {@code torch.device('cuda', 0)}, quantized or sparse
 * tensor rebuilds, or a class admitted through {@link ReadOptions.Builder#allowGlobal} or
 * inert mode).
 *
 * @param callable  the class or function the pickle named
 * @param args      the arguments of the call
 * @param state     what a later BUILD gave it, or {@code null}
 * @param listItems items the pickle appended to it (a list subclass), in order; may be empty
 * @param dictItems items the pickle set on it (a dict subclass), in order; may be empty
 */
public record PyObject(PyGlobal callable, PyTuple args, Object state, List<Object> listItems,
                       Map<Object, Object> dictItems) {
    /**
     * Copies the item list and map into unmodifiable ones.
     *
     * @param callable  the class or function
     * @param args      the arguments
     * @param state     the BUILD state, or {@code null}
     * @param listItems appended items
     * @param dictItems set items
     */
    public PyObject {
        Objects.requireNonNull(callable, "callable");
        Objects.requireNonNull(args, "args");
        listItems = Collections.unmodifiableList(new ArrayList<>(listItems));
        dictItems = Collections.unmodifiableMap(new LinkedHashMap<>(dictItems));
    }

    /**
     * A call with no appended or set items.
     *
     * @param callable the class or function
     * @param args     the arguments
     * @param state    the BUILD state, or {@code null}
     */
    public PyObject(PyGlobal callable, PyTuple args, Object state) {
        this(callable, args, state, List.of(), Map.of());
    }
}
