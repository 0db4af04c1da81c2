package io.torchbridge.libtorch.internal;

import java.util.TreeMap;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Storage;
import org.bytedeco.pytorch.Tensor;

/**
 * The memory of the tensors one load writes into, claimed in the load's order, so that a fast
 * path ({@link MappedViews}, {@link MappedCopies}) never takes a destination whose memory an
 * earlier one shares (tied or aliased parameters). Those go through the caller's {@code copy_}
 * after the fast paths ran, in order, so the last value written wins, as in a sequence of
 * {@code copy_} calls in Python.
 */
public final class Destinations {
    /** Destination byte ranges seen so far, start to end; disjoint (overlapping ones are merged). */
    private final TreeMap<Long, Long> seen = new TreeMap<>();

    /**
     * Records {@code dst}'s bytes; true when they overlap no destination claimed before and
     * {@code dst} is a CPU tensor with storage (the only kind a fast path takes).
     */
    public boolean claim(Tensor dst) {
        if (!dst.is_cpu() || !dst.has_storage() || dst.is_sparse() || dst.is_mkldnn()) {
            return false; // never on a fast path, and its memory is not the CPU's address space
        }
        long start;
        try (Pointer p = dst.data_ptr()) {
            start = p.address();
        }
        long end = start + Math.max(1, dst.nbytes());
        if (!dst.is_contiguous()) {
            // its elements may lie anywhere in its storage: claim the whole storage
            start -= dst.storage_offset() * dst.element_size();
            try (Storage st = dst.storage()) { // a reference into dst, valid while dst is
                end = start + Math.max(1, st.nbytes());
            }
        }
        // The only range that can overlap [start, end) is the last one starting before end;
        // each overlapping one is merged into the new range.
        boolean free = true;
        for (var e = seen.lowerEntry(end); e != null && e.getValue() > start; e = seen.lowerEntry(end)) {
            free = false;
            start = Math.min(start, e.getKey());
            end = Math.max(end, e.getValue());
            seen.remove(e.getKey());
        }
        seen.put(start, end);
        return free;
    }
}
