package io.torchbridge.reader.internal.data;

import io.torchbridge.reader.internal.Checked;
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
        requireInside(pos, len);
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
        requireInside(pos, len);
        List<ByteBuffer> out = new ArrayList<>();
        long end = pos + len; // cannot overflow: inside the region, checked above
        while (pos < end) {
            long chunkEnd = Math.multiplyExact(pos / CHUNK + 1, CHUNK);
            int n = (int) (Math.min(end, chunkEnd) - pos);
            out.add(slice(pos, n));
            pos += n;
        }
        return out;
    }

    /**
     * Views are asked for by the reader's own code after the tensor's extent was checked against
     * its storage, so a range outside the region is a bug here, not a bad file.
     */
    private void requireInside(long pos, long len) {
        if (!Checked.fits(pos, len, length)) {
            throw new IndexOutOfBoundsException("[" + pos + ", +" + len + ") outside a " + length + "-byte region");
        }
    }

    private ByteBuffer[] chunks() {
        file.ensureOpen();
        ByteBuffer[] c = chunks;
        if (c == null) {
            synchronized (this) {
                c = chunks;
                if (c == null) {
                    // offset and length were checked against the file (MappedFile.region), so
                    // the exact operations below only guard this code, not a file's values.
                    int n = Math.toIntExact(Math.max(1, length / CHUNK + (length % CHUNK == 0 ? 0 : 1)));
                    c = new ByteBuffer[n];
                    for (int i = 0; i < n; i++) {
                        long skip = Math.multiplyExact(i, CHUNK);
                        long start = Math.addExact(offset, skip);
                        long len = Math.min(CHUNK, length - skip);
                        // Map from and to 2 MiB file boundaries: the kernel can then map the page
                        // cache's large folios with 2 MiB entries, which makes first touches of the
                        // data several times cheaper (bench/README.md). The view stays exactly the record.
                        long from = start & ~(ALIGN - 1);
                        long to = Math.min(file.size(), Math.addExact(start + len, ALIGN - 1) & ~(ALIGN - 1));
                        c[i] = file.map(from, to - from).slice((int) (start - from), (int) len).asReadOnlyBuffer();
                    }
                    chunks = c;
                }
            }
        }
        return c;
    }
}
