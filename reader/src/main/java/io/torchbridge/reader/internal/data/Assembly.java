package io.torchbridge.reader.internal.data;

import io.torchbridge.reader.DType;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * A tensor whose values lie in several pieces, each a box of the whole tensor stored as a strided
 * view of its own storage, maybe in another file: a DCP tensor saved by several ranks (a
 * {@code Shard(0)} split gives row ranges, a {@code Shard(1)} split column ranges). Nothing is
 * copied when it is made; the values are gathered in row-major order when they are streamed.
 *
 * <p>The pieces must tile the tensor exactly (the reader of the format checks that before it
 * makes one). Let {@code k} be the last dimension that some piece does not span whole: every piece
 * then covers dimensions after {@code k} entirely, so for each index of the dimensions before
 * {@code k} the row-major values are the pieces holding that index, in the order of their
 * offset along {@code k}, each giving one run of {@code sizes[k] * (sizes after k)} values. Where
 * {@code k} is 0 (row ranges, the usual {@code Shard(0)} and FSDP split) the whole tensor is the
 * pieces one after another, and {@link #views()} gives them zero-copy.
 */
public final class Assembly {
    /**
     * One piece: where it sits in the whole tensor ({@code offsets}, its view's shape being its
     * sizes) and its view of its storage.
     */
    public record Piece(MappedRegion region, Layout view, long[] offsets) {
        public Piece {
            offsets = offsets.clone();
        }

        @Override
        public long[] offsets() {
            return offsets.clone();
        }
    }

    private final DType dtype;
    private final long[] shape;
    private final List<Piece> pieces;
    /** The last dimension some piece does not span whole (see above); -1 where one piece is all. */
    private final int split;
    private final List<MappedFile> files;

    /** Pieces that tile {@code shape} exactly, checked by the caller; empty pieces are dropped. */
    public Assembly(DType dtype, long[] shape, List<Piece> pieces) {
        this.dtype = dtype;
        this.shape = shape.clone();
        List<Piece> kept = new ArrayList<>();
        int k = -1;
        for (Piece p : pieces) {
            if (p.view().numel() == 0) {
                continue;
            }
            kept.add(p);
            for (int d = 0; d < shape.length; d++) {
                if (p.view().shape()[d] != shape[d]) {
                    k = Math.max(k, d);
                }
            }
        }
        kept.sort((a, b) -> Arrays.compare(a.offsets, b.offsets)); // row-major order of their first element
        this.pieces = List.copyOf(kept);
        this.split = k;
        Set<MappedFile> fs = new LinkedHashSet<>();
        for (Piece p : kept) {
            fs.add(p.region().file());
        }
        this.files = List.copyOf(fs);
    }

    public int pieceCount() {
        return pieces.size();
    }

    /** Takes a lease of every file the pieces lie in (see {@link MappedFile#acquire()}); pair with {@link #release()}. */
    public void acquire() {
        int taken = 0;
        try {
            for (MappedFile f : files) {
                f.acquire();
                taken++;
            }
        } catch (RuntimeException e) {
            for (int i = 0; i < taken; i++) {
                files.get(i).release();
            }
            throw e;
        }
    }

    public void release() {
        for (MappedFile f : files) {
            f.release();
        }
    }

    /**
     * The values as zero-copy views, one after another, where the pieces are consecutive runs of
     * the row-major values stored as they are read (contiguous, little-endian, no conj/neg bit);
     * null where they must be gathered ({@link #stream}). Views for user code: see
     * {@link MappedRegion#views}.
     */
    public List<ByteBuffer> views() {
        if (split > 0) {
            return null;
        }
        for (Piece p : pieces) {
            if (p.view().transforms() || !Layout.isContiguous(p.view().shape(), p.view().stride())) {
                return null;
            }
        }
        List<ByteBuffer> out = new ArrayList<>();
        for (Piece p : pieces) {
            long start = dtype.bytesFor(p.view().offset());
            out.addAll(p.region().views(start, dtype.bytesFor(p.view().numel())));
        }
        return out;
    }

    /** Streams the values in row-major order, little-endian; the caller holds {@link #acquire()}. */
    public void stream(ByteSink sink) {
        if (pieces.isEmpty()) {
            return;
        }
        if (split <= 0) {
            for (Piece p : pieces) {
                LogicalBytes.stream(p.region(), p.view(), sink);
            }
            return;
        }
        // An odometer over the dimensions before the split; at each index, the pieces holding it.
        int k = split;
        long[] index = new long[k];
        List<Piece> here = new ArrayList<>();
        while (true) {
            here.clear();
            for (Piece p : pieces) {
                if (holds(p, index)) {
                    here.add(p);
                }
            }
            here.sort(Comparator.comparingLong(p -> p.offsets[k]));
            for (Piece p : here) {
                Layout v = p.view();
                long offset = v.offset();
                for (int d = 0; d < k; d++) {
                    offset = Math.addExact(offset, Math.multiplyExact(index[d] - p.offsets[d], v.stride()[d]));
                }
                Layout run = new Layout(v.dtype(), Arrays.copyOfRange(v.shape(), k, v.shape().length),
                        Arrays.copyOfRange(v.stride(), k, v.stride().length), offset, v.conj(), v.neg(), v.swap());
                LogicalBytes.stream(p.region(), run, sink);
            }
            int d = k - 1;
            while (d >= 0) {
                if (++index[d] < shape[d]) {
                    break;
                }
                index[d] = 0;
                d--;
            }
            if (d < 0) {
                return;
            }
        }
    }

    private static boolean holds(Piece p, long[] index) {
        for (int d = 0; d < index.length; d++) {
            long o = p.offsets[d];
            if (index[d] < o || index[d] - o >= p.view().shape()[d]) {
                return false;
            }
        }
        return true;
    }
}
