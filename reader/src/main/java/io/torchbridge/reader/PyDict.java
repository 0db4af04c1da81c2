package io.torchbridge.reader;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * A Python {@code dict} or {@code collections.OrderedDict}: its items in insertion order (keys are
 * {@code String}, {@code Long}/{@code BigInteger}, {@link PyTuple}, ...) plus the attributes a
 * pickle gave the object. A {@code state_dict()} keeps its {@code _metadata} (module versions,
 * read by {@code load_state_dict}) as such an attribute.
 */
public final class PyDict {
    /** The Python class of a plain dict. */
    public static final String DICT = "builtins.dict";
    /** The Python class {@code state_dict()} returns. */
    public static final String ORDERED_DICT = "collections.OrderedDict";

    private final String pythonClass;
    private final Map<Object, Object> items;
    /** The map behind {@link #items}: the reader walks it without a wrapper object per entry. */
    private final Map<Object, Object> own;
    private final Map<String, Object> attributes;

    /**
     * A dict of class {@code pythonClass}; both maps are copied, keeping their order.
     *
     * @param pythonClass {@link #DICT}, {@link #ORDERED_DICT} or another dict subclass
     * @param items       the items, in order
     * @param attributes  attributes set on the object (its {@code __dict__}); empty for a plain dict
     */
    public PyDict(String pythonClass, Map<?, ?> items, Map<String, ?> attributes) {
        this(pythonClass, new LinkedHashMap<Object, Object>(items), new LinkedHashMap<String, Object>(attributes), true);
    }

    private PyDict(String pythonClass, LinkedHashMap<Object, Object> items, LinkedHashMap<String, Object> attributes,
                   boolean owned) {
        this.pythonClass = pythonClass;
        this.own = items;
        this.items = Collections.unmodifiableMap(items);
        this.attributes = Collections.unmodifiableMap(attributes);
    }

    /**
     * A dict over maps that no one else holds or changes: the reader's own, built for it, so
     * that a state dict of 200k entries is not copied once more.
     */
    static PyDict owning(String pythonClass, LinkedHashMap<Object, Object> items, LinkedHashMap<String, Object> attributes) {
        return new PyDict(pythonClass, items, attributes, true);
    }

    /** The items' own map, for the reader's walks; never handed to users, who get {@link #items()}. */
    Map<Object, Object> ownItems() {
        return own;
    }

    /** {@return {@link #DICT}, {@link #ORDERED_DICT} or another dict subclass such as {@code collections.Counter}} */
    public String pythonClass() {
        return pythonClass;
    }

    /** {@return the items, in insertion order; unmodifiable} */
    public Map<Object, Object> items() {
        return items;
    }

    /**
     * {@return the value for {@code key}, or {@code null}}
     *
     * @param key a key as the reader gives it ({@code String}, {@code Long}, ...)
     */
    public Object get(Object key) {
        return items.get(key);
    }

    /** {@return the number of items} */
    public int size() {
        return items.size();
    }

    /** {@return attributes set on the object by the pickle (its {@code __dict__}); unmodifiable} */
    public Map<String, Object> attributes() {
        return attributes;
    }

    /** {@return a {@code state_dict()}'s {@code _metadata}: module prefix to {@code {'version': n}}} */
    public Optional<PyDict> metadata() {
        return attributes.get("_metadata") instanceof PyDict d ? Optional.of(d) : Optional.empty();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PyDict d && pythonClass.equals(d.pythonClass) && items.equals(d.items)
                && attributes.equals(d.attributes);
    }

    @Override
    public int hashCode() {
        return items.hashCode();
    }

    @Override
    public String toString() {
        return (DICT.equals(pythonClass) ? "" : pythonClass) + items;
    }
}
