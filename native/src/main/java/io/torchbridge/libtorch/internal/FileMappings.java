package io.torchbridge.libtorch.internal;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.PointerConsumer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * libtorch storages made over mapped checkpoint records without a copy, and the bookkeeping that
 * keeps each mapping alive exactly as long as libtorch uses it.
 *
 * <p>Java 17 unmaps a {@code MappedByteBuffer} when the buffer is garbage-collected, and libtorch
 * holds only a raw address. So every storage made here registers its buffer in {@link #LIVE}
 * under its address, and the storage's deleter, which libtorch calls when the last tensor on the
 * storage goes, removes it. One deleter object serves all storages: JavaCPP callbacks are native
 * thunks, a few per class, not one per tensor.
 */
public final class FileMappings {
    private static final Map<Long, Deque<ByteBuffer>> LIVE = new ConcurrentHashMap<>();
    private static final PointerConsumer RELEASE = new Release();

    private FileMappings() {
    }

    private static final class Release extends PointerConsumer {
        @Override
        public void call(Pointer data) {
            release(data.address());
        }
    }

    /**
     * A 1-d uint8 CPU tensor over {@code mapped}'s remaining bytes, which must be a direct buffer.
     * The buffer stays reachable until libtorch frees the storage.
     */
    public static Tensor wrap(ByteBuffer mapped) {
        if (!mapped.isDirect()) {
            throw new IllegalArgumentException("not a direct buffer");
        }
        ByteBuffer keep = mapped.slice();
        BytePointer p = new BytePointer(keep);
        long address = p.address() + p.position();
        LIVE.compute(address, (k, v) -> {
            Deque<ByteBuffer> d = v == null ? new ArrayDeque<>() : v;
            d.push(keep);
            return d;
        });
        try (TensorOptions bytes = new TensorOptions(ScalarType.Byte)) {
            return torch.from_blob(p, new long[] {keep.remaining()}, RELEASE, bytes);
        } catch (RuntimeException | Error e) {
            release(address);
            throw e;
        } finally {
            p.close();
        }
    }

    /** The address of {@code buffer}'s position, for alignment checks. */
    public static long address(ByteBuffer buffer) {
        try (BytePointer p = new BytePointer(buffer)) {
            return p.address() + p.position();
        }
    }

    private static void release(long address) {
        LIVE.computeIfPresent(address, (k, v) -> {
            v.pop();
            return v.isEmpty() ? null : v;
        });
    }

    /** How many mapped buffers libtorch storages hold now (for tests). */
    public static int live() {
        return LIVE.values().stream().mapToInt(Deque::size).sum();
    }
}
