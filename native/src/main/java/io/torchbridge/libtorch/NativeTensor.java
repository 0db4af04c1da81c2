package io.torchbridge.libtorch;

import io.torchbridge.libtorch.internal.Devices;
import io.torchbridge.libtorch.internal.ScalarTypes;
import io.torchbridge.reader.DType;
import org.bytedeco.pytorch.Tensor;

/**
 * A libtorch tensor made from a checkpoint tensor, and the owner of its handle.
 *
 * <p><b>Ownership.</b> This object owns one libtorch {@link Tensor} handle; {@link #close()}
 * releases it, after which {@link #tensor()} throws {@link IllegalStateException}. The memory
 * behind it is libtorch's storage, reference-counted by libtorch: it lives while any handle or
 * view of it lives (a module parameter it was copied into does not count, a copy is separate).
 * Do not close the handle {@link #tensor()} returns; close this object.
 *
 * <p><b>File-backed tensors.</b> When {@link #fileBacked()} is true the storage is the
 * checkpoint's memory-mapped record itself, with no copy. The mapping is read-only: writing into
 * such a tensor (an in-place op, {@code copy_} into it, an optimizer step on it) is a memory
 * fault that ends the JVM. Ask for {@link LoadOptions#withWritable(boolean) writable} tensors
 * when you mean to change them. The mapping stays valid until libtorch frees the storage, even
 * after the checkpoint is closed: the storage's deleter holds the mapped buffer.
 */
public final class NativeTensor implements AutoCloseable {
    private final String name;
    private final boolean fileBacked;
    private Tensor handle;

    NativeTensor(String name, Tensor handle, boolean fileBacked) {
        this.name = name;
        this.handle = handle;
        this.fileBacked = fileBacked;
    }

    /** {@return the checkpoint name it came from ({@code fc1.weight})} */
    public String name() {
        return name;
    }

    /**
     * {@return the libtorch tensor, owned by this object: valid until {@link #close()}}
     *
     * @throws IllegalStateException once closed
     */
    public Tensor tensor() {
        Tensor h = handle;
        if (h == null) {
            throw new IllegalStateException("native tensor '" + name + "' is closed");
        }
        return h;
    }

    /** {@return whether the data is the read-only mapped file itself (no copy was made)} */
    public boolean fileBacked() {
        return fileBacked;
    }

    /** {@return the libtorch tensor's dtype, as a checkpoint dtype} */
    public DType dtype() {
        return ScalarTypes.of(tensor().scalar_type());
    }

    /** {@return {@code cpu} or {@code cuda:N}} */
    public String device() {
        return Devices.name(tensor().device());
    }

    /** {@return the sizes, in a new array} */
    public long[] shape() {
        return tensor().sizes().vec().get();
    }

    /** {@return the strides, in elements, in a new array} */
    public long[] stride() {
        return tensor().strides().vec().get();
    }

    /** {@return the offset of the first element in the storage, in elements} */
    public long storageOffset() {
        return tensor().storage_offset();
    }

    /** {@return whether it was closed} */
    public boolean isClosed() {
        return handle == null;
    }

    /** Releases the handle; idempotent. The storage goes when its last libtorch reference does. */
    @Override
    public void close() {
        Tensor h = handle;
        handle = null;
        if (h != null) {
            h.close();
        }
    }

    @Override
    public String toString() {
        return handle == null ? "NativeTensor[" + name + ", closed]"
                : "NativeTensor[" + name + ", " + dtype() + ", " + java.util.Arrays.toString(shape()) + ", "
                        + device() + (fileBacked ? ", file-backed" : "") + "]";
    }
}
