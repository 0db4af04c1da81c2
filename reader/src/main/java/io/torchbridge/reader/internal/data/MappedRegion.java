package io.torchbridge.reader.internal.data;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * A byte range of a {@link MappedFile} (one storage record), mapped on first use in chunks of at
 * most {@link #CHUNK} bytes so that records over 2 GiB stay reachable. Thread-safe.
 */
public final class MappedRegion {
    /** Chunk size: a power of two, so every element of every dtype (1..16 bytes) sits in one chunk. */
    public static final long CHUNK = 1L << 30;
    private static final long ALIGN = 2L << 20;

    private final MappedFile file;
    private final long offset;
    private final long length;
    private final ByteOrder order;
    private volatile ByteBuffer[] chunks;

    MappedRegion(MappedFile file, long offset, long length, ByteOrder order) {
        this.file = file;
        this.offset = offset;
        this.length = length;
        this.order = order;
    }

    public long length() {
        return length;
    }

    /** The byte order of the data as stored. */
    public ByteOrder order() {
        return order;
    }

    /**
     * A read-only view of {@code [pos, pos + len)}, which must not cross a chunk boundary unless
     * the region is one chunk.
     */
    public ByteBuffer slice(long pos, int len) {
        ByteBuffer[] c = chunks();
        int idx = (int) (pos / CHUNK);
        int within = (int) (pos % CHUNK);
        if (len > 0 && within + (long) len > c[idx].capacity()) {
            throw new IllegalArgumentException("slice crosses a chunk boundary");
        }
        return c[idx].slice(within, len).order(order);
    }

    /** Read-only views covering {@code [pos, pos + len)}, split only at chunk boundaries. */
    public List<ByteBuffer> slices(long pos, long len) {
        List<ByteBuffer> out = new ArrayList<>();
        long end = pos + len;
        while (pos < end) {
            long chunkEnd = (pos / CHUNK + 1) * CHUNK;
            int n = (int) (Math.min(end, chunkEnd) - pos);
            out.add(slice(pos, n));
            pos += n;
        }
        return out;
    }

    private ByteBuffer[] chunks() {
        file.ensureOpen();
        ByteBuffer[] c = chunks;
        if (c == null) {
            synchronized (this) {
                c = chunks;
                if (c == null) {
                    int n = (int) Math.max(1, (length + CHUNK - 1) / CHUNK);
                    c = new ByteBuffer[n];
                    for (int i = 0; i < n; i++) {
                        long start = offset + i * CHUNK;
                        long len = Math.min(CHUNK, length - i * CHUNK);
                        // Map from and to 2 MiB file boundaries: the kernel can then map the page
                        // cache's large folios with 2 MiB entries, which makes first touches of the
                        // data several times cheaper (bench/README.md). The view stays exactly the record.
                        long from = start & ~(ALIGN - 1);
                        long to = Math.min(file.size(), (start + len + ALIGN - 1) & ~(ALIGN - 1));
                        c[i] = file.map(from, to - from).slice((int) (start - from), (int) len).asReadOnlyBuffer();
                    }
                    chunks = c;
                }
            }
        }
        return c;
    }
}
