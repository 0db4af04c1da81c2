package io.torchbridge.libtorch.internal;

import io.torchbridge.reader.DType;
import io.torchbridge.reader.TensorInfo;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Checkpoint storages as libtorch storages. A storage becomes one 1-d uint8 tensor over all its
 * bytes (zero-copy over the mapping, or one copy); each checkpoint tensor is then a typed view of
 * that storage with the saved shape, strides, offset and conj/neg bits, so tensors that shared a
 * storage in Python share one here.
 */
public final class Storages {
    private Storages() {
    }

    /** A storage's bytes as a uint8 CPU tensor; {@code fileBacked} when it is the mapping itself. */
    public record Bytes(Tensor tensor, boolean fileBacked) {
    }

    /**
     * The whole storage of {@code t} as a 1-d uint8 CPU tensor. Zero-copy when {@code copy} is
     * false, the data is little-endian (or one byte per element), the storage sits in one mapped
     * view (up to 1 GiB) and its address is aligned to the element size; otherwise one copy into
     * memory libtorch allocates, byte-swapped for a big-endian file.
     */
    public static Bytes storageBytes(io.torchbridge.reader.Tensor t, boolean copy) {
        TensorInfo info = t.info();
        int item = info.dtype().itemSize();
        List<ByteBuffer> chunks = t.storageChunks();
        boolean swap = !chunks.isEmpty() && chunks.get(0).order() != ByteOrder.LITTLE_ENDIAN && swapUnit(info.dtype()) > 1;
        if (!copy && !swap && chunks.size() == 1 && FileMappings.address(chunks.get(0)) % item == 0) {
            return new Bytes(FileMappings.wrap(chunks.get(0)), true);
        }
        long nbytes = info.storage().nbytes();
        Tensor bytes;
        try (TensorOptions o = new TensorOptions(ScalarType.Byte)) {
            bytes = torch.empty(new long[] {nbytes}, o, null);
        }
        try {
            if (nbytes > 0) {
                try (BytePointer dst = new BytePointer(bytes.data_ptr())) {
                    dst.capacity(nbytes);
                    long pos = 0;
                    for (ByteBuffer c : chunks) {
                        ByteBuffer src = c.duplicate().clear();
                        ByteBuffer target = dst.position(pos).limit(pos + src.remaining()).asByteBuffer();
                        if (swap) {
                            copySwapped(src, target, swapUnit(info.dtype()));
                        } else {
                            target.put(src);
                        }
                        pos += src.capacity();
                    }
                }
            }
            return new Bytes(bytes, false);
        } catch (RuntimeException | Error e) {
            bytes.close();
            throw e;
        }
    }

    /** Bytes per byte-swapped unit: the element, or each half of a complex element. */
    private static int swapUnit(DType d) {
        return d.family() == DType.Family.COMPLEX ? d.itemSize() / 2 : d.itemSize();
    }

    private static void copySwapped(ByteBuffer src, ByteBuffer dst, int unit) {
        int n = src.remaining();
        for (int i = 0; i + unit <= n; i += unit) {
            for (int j = 0; j < unit; j++) {
                dst.put(i + j, src.get(src.position() + i + unit - 1 - j));
            }
        }
    }

    /**
     * A typed view of {@code bytes}' storage ({@code storage.set_} as PyTorch's
     * {@code _rebuild_tensor} does), with the conj and neg bits set as
     * {@code torch._utils._set_tensor_metadata} sets them: the storage keeps the un-conjugated,
     * un-negated values.
     */
    @SuppressWarnings("try") // a scope guard (PointerScope, NoGradGuard), used for its lifetime alone
    public static Tensor view(Tensor bytes, DType dtype, long[] shape, long[] stride, long offset, boolean conj,
                              boolean neg) {
        try (PointerScope scope = new PointerScope()) {
            TensorOptions o = bytes.options().dtype(new ScalarTypeOptional(ScalarTypes.of(dtype)));
            Tensor v = torch.empty(new long[] {0}, o, null);
            v.set_(bytes.storage(), offset, shape, stride);
            if (conj && dtype.family() == DType.Family.COMPLEX) {
                v.unsafeGetTensorImpl()._set_conj(true);
            }
            if (neg) {
                v.unsafeGetTensorImpl()._set_neg(true);
            }
            v.retainReference(); // outlives the scope, owned by the caller
            return v;
        }
    }
}
