package io.torchbridge.reader.internal.data;

import io.torchbridge.reader.internal.Checked;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * A byte range of a {@link MappedFile} (one storage record): a plain value that maps nothing
 * itself. Its bytes are read as slices of the file's shared windows, split at multiples of
 * {@link #CHUNK} counted from the region's start, so that records over 2 GiB stay reachable and no
 * element of any dtype straddles two slices. Thread-safe.
 */
public final class MappedRegion {
    /** The most one slice spans: a power of two, so every element of every dtype (1..16 bytes) sits in one. */
    public static final long CHUNK = 1L << 30;

    private final MappedFile file;
    private final long offset;
    private final long length;
    private final ByteOrder order;

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

    /** Where the region starts in the file. */
    public long offset() {
        return offset;
    }

    /** The file this region belongs to, whose {@link MappedFile#acquire() lease} guards reads of it. */
    public MappedFile file() {
        return file;
    }

    /**
     * A read-only view of {@code [pos, pos + len)}, which must not cross a chunk boundary. For the
     * reader's own code, under a lease of the file: the view must not be used after the lease ends.
     */
    public ByteBuffer slice(long pos, int len) {
        return slice(pos, len, false);
    }

    /**
     * Read-only views covering {@code [pos, pos + len)}, split only at chunk boundaries. For the
     * reader's own code, under a lease: the views must not be used after the lease ends.
     */
    public List<ByteBuffer> slices(long pos, long len) {
        return slices(pos, len, false);
    }

    /**
     * Like {@link #slices}, for views handed to user code, which may outlive the checkpoint: takes
     * its own lease, and marks the windows they point into so that {@link MappedFile#close()} never
     * unmaps those (the garbage collector does, once the views are gone).
     *
     * @throws IllegalStateException if the file is closed
     */
    public List<ByteBuffer> views(long pos, long len) {
        file.acquire();
        try {
            return slices(pos, len, true);
        } finally {
            file.release();
        }
    }

    private List<ByteBuffer> slices(long pos, long len, boolean escaping) {
        requireInside(pos, len);
        long chunk = file.chunk();
        List<ByteBuffer> out = new ArrayList<>();
        long end = pos + len; // cannot overflow: inside the region, checked above
        while (pos < end) {
            long chunkEnd = Math.multiplyExact(pos / chunk + 1, chunk);
            int n = (int) (Math.min(end, chunkEnd) - pos);
            out.add(slice(pos, n, escaping));
            pos += n;
        }
        return out;
    }

    private ByteBuffer slice(long pos, int len, boolean escaping) {
        requireInside(pos, len);
        long chunk = file.chunk();
        if (len > 0 && pos % chunk + len > chunk) {
            throw new IllegalArgumentException("slice crosses a chunk boundary");
        }
        // offset + pos cannot overflow: the region lies inside the file (MappedFile.region).
        return file.slice(offset + pos, len, escaping).order(order);
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
}
