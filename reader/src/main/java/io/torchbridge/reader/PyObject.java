package io.torchbridge.reader;

import java.util.Objects;

/**
 * An inert record of a call the pickle asked for and the reader did not perform: the callable or
 * class, its arguments, and the state a later BUILD gave it (or {@code null}). Nothing is
 * constructed or executed. The reader returns these for globals that are admitted but have no
 * plain-data meaning here (for example {@code torch.device('cuda', 0)}, quantized or sparse
 * tensor rebuilds, or a class admitted through {@link ReadOptions.Builder#allowGlobal}).
 */
public record PyObject(PyGlobal callable, PyTuple args, Object state) {
    public PyObject {
        Objects.requireNonNull(callable, "callable");
        Objects.requireNonNull(args, "args");
    }
}
