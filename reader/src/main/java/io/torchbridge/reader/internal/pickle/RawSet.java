package io.torchbridge.reader.internal.pickle;

import java.util.LinkedHashSet;
import java.util.Set;

/**
 * A set or a frozenset while the pickle fills it (ADDITEMS, FROZENSET); insertion order kept.
 * Both become the same unmodifiable {@code java.util.Set}: Python compares a set and a frozenset
 * of the same items equal, nothing in a checkpoint depends on which it was, and the immutable
 * Java value already has the frozenset's one property.
 */
public final class RawSet {
    public final Set<Object> items = new LinkedHashSet<>();

    RawSet() {
    }
}
