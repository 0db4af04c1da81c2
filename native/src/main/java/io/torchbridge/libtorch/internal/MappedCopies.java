package io.torchbridge.libtorch.internal;

import io.torchbridge.reader.TensorInfo;
import io.torchbridge.reader.TensorLayout;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;

/**
 * Copies of checkpoint tensors straight from the mapped file into CPU tensors' own memory: a
 * plain {@code memcpy} per piece, the pieces shared out over a few threads. What
 * {@code dst.copy_(view of the mapping)} computes, without a libtorch view made per tensor
 * first, and faster: libtorch's copy kernel stores through the cache (each destination line is
 * read before it is written), where the C library's {@code memcpy} of a large block streams, and
 * spreading the pieces over the cores lets each fault in its own part of the mapping.
 *
 * <p>Only the plain case takes this path ({@link #add} says whether it did): a contiguous CPU
 * destination of the same dtype and size, a contiguous little-endian source without conj/neg
 * bits, in direct (mapped) buffers. Anything else is left to the caller's {@code copy_}.
 * Each destination's version counter is bumped, as {@code copy_} bumps it.
 */
public final class MappedCopies {
    /** Piece size: big enough that a call costs nothing next to its copy, small enough to balance. */
    private static final long PIECE = 8L << 20;
    /** Threads at most: the copy is bound by memory bandwidth, which a few cores saturate. */
    private static final int MAX_THREADS = 4;

    private record Piece(Pointer dst, long dstOffset, ByteBuffer src, int srcOffset, int length) {
    }

    private final List<Piece> pieces = new ArrayList<>();
    private final List<Tensor> targets = new ArrayList<>();
    private final Destinations destinations;
    private long bytes;

    /**
     * Copies for one load.
     *
     * @param destinations the load's claims, shared with its other fast paths
     */
    public MappedCopies(Destinations destinations) {
        this.destinations = destinations;
    }

    /**
     * Plans the copy of {@code value} into {@code dst} if it is the plain case (a checkpoint tensor
     * into a CPU tensor), and says whether it did; {@code false} leaves {@code dst} for the
     * caller's {@code copy_}, which must come after {@link #run}, in the caller's order. Every
     * destination of the load not taken by another fast path passes here, planned or not, for
     * its claim ({@link Destinations}). Nothing is copied before {@link #run}; {@code dst} must
     * stay open until then.
     */
    public boolean add(Tensor dst, Object value) {
        boolean fresh = destinations.claim(dst);
        io.torchbridge.reader.Tensor src = fresh ? plainSource(dst, value) : null;
        if (src == null || !dst.is_contiguous() || dst.nbytes() != src.info().nbytes()) {
            return false;
        }
        TensorInfo i = src.info();
        int item = i.dtype().itemSize();
        List<ByteBuffer> chunks = src.dataChunks();
        long total = 0;
        for (ByteBuffer c : chunks) {
            if (!c.isDirect() || (item > 1 && c.order() != ByteOrder.LITTLE_ENDIAN)) {
                return false;
            }
            total += c.remaining();
        }
        if (total != i.nbytes()) {
            return false;
        }
        if (total == 0) {
            targets.add(dst);
            return true;
        }
        Pointer base = dst.data_ptr(); // a plain address, owns nothing
        long at = 0;
        for (ByteBuffer c : chunks) {
            for (int off = 0; off < c.remaining(); off += (int) Math.min(PIECE, c.remaining() - off)) {
                int len = (int) Math.min(PIECE, c.remaining() - off);
                pieces.add(new Piece(base, at, c, c.position() + off, len));
                at += len;
            }
        }
        targets.add(dst);
        bytes += total;
        return true;
    }

    /**
     * {@code value} when it and {@code dst} are the plain pair both fast paths take, else null:
     * a strided, unquantized, contiguous checkpoint tensor without conj/neg bits, of {@code dst}'s
     * dtype and element count, into a CPU tensor with storage and without conj/neg bits (neither
     * quantized, sparse nor mkldnn). Each path adds its own conditions on the bytes.
     */
    static io.torchbridge.reader.Tensor plainSource(Tensor dst, Object value) {
        if (!(value instanceof io.torchbridge.reader.Tensor src)) {
            return null;
        }
        TensorInfo i = src.info();
        boolean plain = i.layout() == TensorLayout.STRIDED && src.quantization().isEmpty() && !i.conj() && !i.neg()
                && i.isContiguous()
                && dst.is_cpu() && dst.has_storage() && !dst.is_quantized() && !dst.is_sparse() && !dst.is_mkldnn()
                && !dst.is_conj() && !dst.is_neg()
                && ScalarTypes.of(dst.scalar_type()) == i.dtype() && dst.numel() == i.numel();
        return plain ? src : null;
    }

    /** Copies everything planned, on up to a few threads (the caller's among them), and bumps versions. */
    public void run() {
        int threads = (int) Math.max(1, Math.min(Math.min(MAX_THREADS, Runtime.getRuntime().availableProcessors()),
                bytes / PIECE));
        AtomicInteger next = new AtomicInteger();
        Runnable work = () -> {
            for (int k = next.getAndIncrement(); k < pieces.size(); k = next.getAndIncrement()) {
                copy(pieces.get(k));
            }
        };
        List<Thread> helpers = new ArrayList<>();
        for (int t = 1; t < threads; t++) {
            Thread h = new Thread(work, "torchbridge-copy-" + t);
            h.setDaemon(true);
            h.start();
            helpers.add(h);
        }
        work.run();
        boolean interrupted = false;
        for (Thread h : helpers) {
            while (true) {
                try {
                    h.join(); // never abandoned: a helper writes into tensors the caller owns
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        for (Tensor t : targets) {
            t.unsafeGetTensorImpl().bump_version();
        }
    }

    private static void copy(Piece p) {
        try (BytePointer from = new BytePointer(p.src()); BytePointer to = new BytePointer(p.dst())) {
            Pointer.memcpy(to.position(p.dstOffset()), from.position(p.srcOffset()), p.length());
        } finally {
            // the mapping must outlive the copy: the buffer is what keeps it mapped
            Reference.reachabilityFence(p.src());
        }
    }
}
