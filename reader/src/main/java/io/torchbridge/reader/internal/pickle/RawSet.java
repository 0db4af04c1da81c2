package io.torchbridge.reader.internal.pickle;

import java.util.LinkedHashSet;
import java.util.Set;

/** A set (or frozenset) while the pickle fills it (ADDITEMS); insertion order kept. */
public final class RawSet {
    public final Set<Object> items = new LinkedHashSet<>();
    public final boolean frozen;

    RawSet(boolean frozen) {
        this.frozen = frozen;
    }
}
