package io.torchbridge.reader;

import java.util.AbstractList;
import java.util.List;
import java.util.RandomAccess;

/**
 * A Python tuple: an immutable, ordered list of values (which may include {@code null} for None).
 * Distinct from a Python list, which the reader returns as a {@link List}.
 *
 * @param items the elements, in order; unmodifiable, may hold {@code null}
 */
public record PyTuple(List<Object> items) {
    /**
     * Copies {@code items} into an unmodifiable list (which, unlike {@link List#copyOf}, keeps nulls).
     *
     * @param items the elements, in order
     */
    public PyTuple {
        // List.copyOf would refuse None elements; an unmodifiable view of a copied ArrayList would
        // cost two objects more per tuple, and a checkpoint of 200k tensors unpickles about a million.
        items = items instanceof Items ? items : new Items(items.toArray());
    }

    /**
     * {@return a tuple of these elements}
     *
     * @param items the elements, in order; the array is copied
     */
    public static PyTuple of(Object... items) {
        return new PyTuple(new Items(items.clone()));
    }

    /** {@return the number of elements} */
    public int size() {
        return items.size();
    }

    /**
     * {@return the element at {@code i}}
     *
     * @param i the index, from 0
     * @throws IndexOutOfBoundsException {@code i} is outside the tuple
     */
    public Object get(int i) {
        return items.get(i);
    }

    /** An immutable list over an array no one else holds. */
    private static final class Items extends AbstractList<Object> implements RandomAccess {
        private final Object[] a;

        Items(Object[] a) {
            this.a = a;
        }

        @Override
        public Object get(int i) {
            return a[i];
        }

        @Override
        public int size() {
            return a.length;
        }
    }
}
