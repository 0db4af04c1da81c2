package io.torchbridge.reader.internal.pickle;

import io.torchbridge.reader.PyGlobal;
import io.torchbridge.reader.PyTuple;

/** An inert call (REDUCE/NEWOBJ/INST/OBJ of an admitted global); BUILD may still set its state. */
public final class RawObject {
    public final PyGlobal callable;
    public final PyTuple args;
    public Object state;
    public final java.util.List<Object> listItems = new java.util.ArrayList<>();
    public final java.util.Map<Object, Object> dictItems = new java.util.LinkedHashMap<>();

    RawObject(PyGlobal callable, PyTuple args) {
        this.callable = callable;
        this.args = args;
    }
}
