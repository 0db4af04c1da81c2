package io.torchbridge.libtorch.internal;

import io.torchbridge.reader.DType;
import io.torchbridge.reader.Shape;
import io.torchbridge.writer.NewTensor;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Storage;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * libtorch tensors (CPU or CUDA) as writer tensors, the way {@code torch.save} sees them: each
 * libtorch storage is copied once, whole, into the Java heap (so later training steps do not
 * change what gets saved), and each tensor is a view of it with its own shape, strides, offset,
 * conj/neg bits and requires_grad, tagged with its device ({@code cpu}, {@code cuda:0}) unless
 * the caller names another tag. Tensors converted by one {@code Snapshots} that share a libtorch
 * storage share the writer storage. Not thread-safe; one per save.
 */
public final class Snapshots {
    /** Heap chunk size: a power of two, so no element straddles two chunks. */
    private static final int CHUNK = 1 << 30;

    private final String location;
    private final Map<String, Entry> bases = new HashMap<>();

    /** The storage copy, and the libtorch storage handle that keeps its address from being reused meanwhile. */
    private record Entry(NewTensor base, Storage storage) {
    }

    /** @param location the tag every tensor gets, or {@code null} for each tensor's own device */
    public Snapshots(String location) {
        this.location = location;
    }

    public NewTensor convert(Tensor t, String name) {
        if (t == null || !t.defined()) {
            throw new IllegalArgumentException("'" + name + "' is an undefined libtorch tensor");
        }
        if (t.layout().intern() != torch.Layout.Strided) {
            throw new IllegalArgumentException("'" + name + "' has layout " + t.layout()
                    + "; only strided tensors are written");
        }
        DType dtype = ScalarTypes.of(t.scalar_type());
        String device = Devices.name(t.device());
        long[] shape = t.sizes().vec().get();
        long[] stride = t.strides().vec().get();
        Storage storage = t.storage();
        long nbytes = storage.nbytes();
        int item = dtype.itemSize();
        NewTensor view;
        if (nbytes % item != 0) {
            // A storage that is not a whole number of elements (viewed through another dtype):
            // save the values alone, as a fresh contiguous tensor.
            try (Tensor c = t.resolve_conj().resolve_neg().contiguous()) {
                // Element counts as the reader and writer count them (Shape.numel), exact.
                NewTensor base = NewTensor.ofChunks(copy(c.storage(), device,
                        Math.multiplyExact(c.storage_offset(), (long) item),
                        Math.multiplyExact(Shape.of(shape).numel(), (long) item)), dtype, shape);
                view = base;
            }
            storage.close();
        } else {
            long address = storage.data() == null ? 0 : storage.data().address();
            String key = device + "@" + Long.toHexString(address) + "+" + nbytes + ":" + dtype;
            Entry e = bases.get(key);
            if (e == null) {
                NewTensor base = NewTensor.ofChunks(copy(storage, device, 0, nbytes), dtype, nbytes / item);
                e = new Entry(base, storage);
                bases.put(key, e);
            } else {
                storage.close();
            }
            view = e.base().view(t.storage_offset(), shape, stride).withConj(t.is_conj()).withNeg(t.is_neg());
        }
        view = view.withRequiresGrad(t.requires_grad());
        String tag = location != null ? location : device;
        // torch.save makes a fresh location string per storage reference (only 'cpu' is one
        // interned object), so each tensor gets its own String for the pickler's memo.
        return "cpu".equals(tag) ? view : view.withLocation(new String(tag));
    }

    /** {@code [from, from + len)} bytes of a storage, copied to heap buffers (through the host for CUDA). */
    @SuppressWarnings("try") // a scope guard (PointerScope, NoGradGuard), used for its lifetime alone
    private static List<ByteBuffer> copy(Storage storage, String device, long from, long len) {
        List<ByteBuffer> out = new ArrayList<>();
        if (len == 0) {
            return out;
        }
        try (PointerScope scope = new PointerScope()) {
            TensorOptions o = new TensorOptions(Devices.device(device)).dtype(new ScalarTypeOptional(ScalarType.Byte));
            Tensor bytes = torch.empty(new long[] {0}, o, null);
            bytes.set_(storage, from, new long[] {len}, 1L);
            Tensor host = bytes.is_cpu() ? bytes : bytes.cpu();
            BytePointer src = new BytePointer(host.data_ptr()).capacity(len);
            for (long pos = 0; pos < len; pos += CHUNK) {
                int n = (int) Math.min(CHUNK, len - pos);
                ByteBuffer heap = ByteBuffer.allocate(n);
                heap.put(src.position(pos).limit(pos + n).asByteBuffer());
                heap.flip();
                out.add(heap);
            }
        }
        return out;
    }
}
