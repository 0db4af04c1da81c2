package io.torchbridge.reader;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A Python tuple: an immutable, ordered list of values (which may include {@code null} for None).
 * Distinct from a Python list, which the reader returns as a {@link List}.
 */
public record PyTuple(List<Object> items) {
    public PyTuple {
        // List.copyOf would refuse None elements.
        items = Collections.unmodifiableList(new ArrayList<>(items));
    }

    public static PyTuple of(Object... items) {
        return new PyTuple(java.util.Arrays.asList(items));
    }

    public int size() {
        return items.size();
    }

    public Object get(int i) {
        return items.get(i);
    }
}
