package io.torchbridge.libtorch;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;

/**
 * Every tensor of a checkpoint as a libtorch tensor, by name, in the checkpoint's order. Tensors
 * that share a storage in the file share one libtorch storage (views stay views). Owns its
 * {@link NativeTensor}s: {@link #close()} closes them all, and any use afterwards throws
 * {@link IllegalStateException}.
 */
public final class NativeTensorMap implements AutoCloseable {
    private final Map<String, NativeTensor> tensors;
    private volatile boolean closed;

    NativeTensorMap(Map<String, NativeTensor> tensors) {
        this.tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
    }

    /** {@return the tensors by name, in order; unmodifiable} Closing the map closes them. */
    public Map<String, NativeTensor> asMap() {
        ensureOpen();
        return tensors;
    }

    /** {@return the tensor names, in order; a new list} */
    public List<String> names() {
        ensureOpen();
        return new ArrayList<>(tensors.keySet());
    }

    /**
     * {@return the libtorch tensor called {@code name}, owned by this map}
     *
     * @param name the checkpoint name
     * @throws NoSuchElementException no tensor has that name
     */
    public org.bytedeco.pytorch.Tensor tensor(String name) {
        return get(name).tensor();
    }

    /**
     * {@return the tensor called {@code name}, owned by this map}
     *
     * @param name the checkpoint name
     * @throws NoSuchElementException no tensor has that name
     */
    public NativeTensor get(String name) {
        ensureOpen();
        NativeTensor t = tensors.get(name);
        if (t == null) {
            throw new NoSuchElementException("no tensor '" + name + "'");
        }
        return t;
    }

    /** {@return the number of tensors} */
    public int size() {
        ensureOpen();
        return tensors.size();
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("native tensor map is closed");
        }
    }

    @Override
    public void close() {
        closed = true;
        for (NativeTensor t : tensors.values()) {
            t.close();
        }
    }
}
