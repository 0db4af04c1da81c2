package io.torchbridge.reader.internal.data;

import io.torchbridge.reader.internal.Checked;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * An open checkpoint file: the one channel its zip index, its records and its mapped regions are
 * all read from, so that they come from the same file even if the path is replaced meanwhile
 * (writers, ours included, replace files by an atomic rename).
 *
 * <p><b>Mappings.</b> The file is mapped in a bounded number of windows shared by every record,
 * never one mapping per record: Linux allows about 65k mappings per process
 * ({@code vm.max_map_count}), and checkpoints with that many storages exist. Window {@code k}
 * starts at {@code k * step} and is {@code step + chunk} bytes long (clipped to the file), so any
 * range of at most {@code chunk} bytes (the most one {@link MappedRegion} slice spans) lies inside
 * one window; a range is served by the lowest window that holds it, so a file up to
 * {@code step + chunk} bytes needs one mapping and any file at most {@code ceil(size / step)}.
 * Windows are mapped on first use.
 *
 * <p><b>Lifetime.</b> Owner of the channel and the windows; {@link #close()} releases them, and
 * nothing else does. The reader's own code reads mapped bytes only while it holds a
 * {@linkplain #acquire() lease}; {@code close()} marks the file closed (new leases then fail with
 * {@link IllegalStateException}), waits until no lease is held, then unmaps every window, except
 * windows from which a view was handed to user code ({@link MappedRegion#views}): those are only
 * dropped, and the garbage collector unmaps each when its last view dies. Unmapping memory that a
 * live buffer still points at would crash the JVM on the buffer's next read; this way no misuse
 * can.
 */
public final class MappedFile implements AutoCloseable {
    /** Window spacing in production: half a chunk, so each window overlaps the next by a chunk. */
    static final long STEP = 512L << 20;
    /**
     * Windows start at multiples of the step, which is a multiple of this: the kernel can then
     * map the page cache's large folios with 2 MiB entries, which makes first touches of the data
     * several times cheaper (bench/README.md).
     */
    private static final long ALIGN = 2L << 20;

    private final Path path;
    private final FileChannel channel;
    /**
     * The file's identity (device and inode on Linux) when the path named the same file just
     * before and just after the channel was opened, else null: what lets a caller that opens the
     * path again (libtorch's own copy-on-write mapping, {@code from_file}) prove it got this file.
     */
    private final Object fileKey;
    private final long size;
    private final long step;
    private final long chunk;
    private final Window[] windows;
    /** Leases held now, by all threads (a counter, so that concurrent readers never wait on each other). */
    private final AtomicLong leases = new AtomicLong();
    /** Leases the current thread holds, so that a close from inside a read does not wait for itself. */
    private final ThreadLocal<int[]> held = ThreadLocal.withInitial(() -> new int[1]);
    private final AtomicBoolean released = new AtomicBoolean();
    private final Object mapLock = new Object();
    private volatile boolean closed;
    /** Set by a close that found its own thread holding a lease: the last release then finishes it. */
    private volatile boolean closeDeferred;
    private volatile Thread closer;

    private MappedFile(Path path, FileChannel channel, Object fileKey, long size, long step, long chunk) {
        if (step <= 0 || chunk <= 0 || step + chunk > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("window step " + step + " and chunk " + chunk);
        }
        this.path = path;
        this.channel = channel;
        this.fileKey = fileKey;
        this.size = size;
        this.step = step;
        this.chunk = chunk;
        this.windows = new Window[Math.toIntExact(Math.max(1, (size + step - 1) / step))];
    }

    public static MappedFile open(Path path) throws IOException {
        return open(path, STEP, MappedRegion.CHUNK);
    }

    /** With another window geometry, for tests of the window arithmetic on small files. */
    static MappedFile open(Path path, long step, long chunk) throws IOException {
        Object before = fileKey(path);
        FileChannel ch = FileChannel.open(path, StandardOpenOption.READ);
        try {
            Object after = fileKey(path);
            // The same file at the path before and after the open: the channel is that file
            // (writers replace files by rename, and our open channel keeps its inode from reuse).
            Object key = before != null && before.equals(after) ? after : null;
            return new MappedFile(path, ch, key, ch.size(), step, chunk);
        } catch (RuntimeException | IOException e) {
            ch.close();
            throw e;
        }
    }

    /** The path the file was opened from, for messages only: the file there may have been replaced since. */
    public Path path() {
        return path;
    }

    public long size() {
        return size;
    }

    /**
     * Whether {@code path} names this very file now: true only when the file's identity was
     * established at open and is the one the path has now. A caller that maps the path again
     * checks this after mapping; then the mapping is of this file unless the path was swapped
     * away and back meanwhile, which a writer replacing files by rename never does.
     */
    public boolean isAt(Path other) {
        return fileKey != null && fileKey.equals(fileKey(other));
    }

    private static Object fileKey(Path p) {
        try {
            return Files.readAttributes(p, BasicFileAttributes.class).fileKey();
        } catch (IOException | UnsupportedOperationException e) {
            return null; // no identity: callers fall back to what needs none
        }
    }

    /** The most bytes one slice of a region may span (1 GiB in production). */
    long chunk() {
        return chunk;
    }

    /** Reads exactly {@code length} bytes at {@code position} into a new array. */
    public byte[] read(long position, int length) throws IOException {
        byte[] out = new byte[length];
        read(position, out, length);
        return out;
    }

    /**
     * Reads exactly {@code length} bytes at {@code position} into the start of {@code into}: for a
     * caller that reads many windows, one array for all of them (the zip index reads the local
     * headers of 100k records through a few hundred windows; a new array each was a tenth of the
     * bytes an open allocated).
     */
    public void read(long position, byte[] into, int length) throws IOException {
        ensureOpen();
        if (!Checked.fits(position, length, size)) {
            throw new EOFException(length + " bytes at " + position + " reach past the end of the "
                    + size + "-byte file");
        }
        ByteBuffer buf = ByteBuffer.wrap(into, 0, length);
        while (buf.hasRemaining()) {
            int n = channel.read(buf, position + buf.position());
            if (n < 0) {
                throw new EOFException("end of file at " + (position + buf.position()));
            }
        }
    }

    /**
     * Copies {@code count} bytes from {@code position} to {@code target} at its position, without
     * mapping and, where the kernel can (a file target on Linux), without passing them through
     * user space ({@link FileChannel#transferTo}: sendfile or copy_file_range). Loops until all
     * are written: one call may move less.
     *
     * @return {@code count}
     * @throws EOFException the file no longer holds the range (it was truncated after opening)
     */
    public long transferTo(long position, long count, WritableByteChannel target) throws IOException {
        ensureOpen();
        if (count < 0 || !Checked.fits(position, count, size)) {
            throw new EOFException(count + " bytes at " + position + " reach past the end of the "
                    + size + "-byte file");
        }
        long done = 0;
        while (done < count) {
            long n = channel.transferTo(position + done, count - done, target);
            if (n <= 0) {
                // FileChannel.transferTo moves nothing only at or past the end of the file
                throw new EOFException("end of file at " + (position + done) + " of " + path
                        + ": it was truncated after it was opened");
            }
            done += n;
        }
        return count;
    }

    /**
     * A region of the file, a plain value that maps nothing itself; {@code [offset, offset + length)}
     * must lie inside the file (the zip index checks every record's extent before a region is made of it).
     */
    public MappedRegion region(long offset, long length, ByteOrder order) {
        if (!Checked.fits(offset, length, size)) {
            throw new IllegalArgumentException("region [" + offset + ", +" + length + ") lies outside the "
                    + size + "-byte file");
        }
        return new MappedRegion(this, offset, length, order);
    }

    /**
     * Takes a lease: until the matching {@link #release()}, {@link #close()} unmaps nothing.
     * Every read of mapped bytes by the reader's own code happens under one; pair them with
     * try/finally. Leases nest.
     *
     * @throws IllegalStateException if the file is closed
     */
    public void acquire() {
        leases.incrementAndGet();
        if (closed) {
            // Seen after the increment: the closer either saw this lease and waits for it, or
            // had marked the file closed first, which this read now sees.
            release0();
            throw closedError(null);
        }
        held.get()[0]++;
    }

    /** Ends a lease taken by {@link #acquire()}. */
    public void release() {
        held.get()[0]--;
        release0();
    }

    private void release0() {
        if (leases.decrementAndGet() == 0 && closed) {
            if (closeDeferred) {
                finishClose();
            } else {
                Thread t = closer;
                if (t != null) {
                    LockSupport.unpark(t);
                }
            }
        }
    }

    /**
     * A read-only view of the file bytes {@code [offset, offset + length)}, at most one chunk,
     * from the lowest window that holds them. The caller holds a lease; {@code escaping} marks
     * the window as one whose views reach user code, which {@link #close()} then never unmaps.
     */
    ByteBuffer slice(long offset, int length, boolean escaping) {
        if (length > chunk || !Checked.fits(offset, length, size)) {
            throw new IndexOutOfBoundsException("[" + offset + ", +" + length + ") is no slice of the "
                    + size + "-byte file");
        }
        // The lowest k with k * step + step + chunk >= end; it starts at or before offset because
        // length <= chunk (k * step < end - chunk <= offset when k > 0).
        long end = offset + length;
        long over = end - step - chunk;
        int k = over <= 0 ? 0 : (int) ((over + step - 1) / step);
        Window w = window(k);
        if (escaping && !w.escaped) {
            w.escaped = true;
        }
        return w.view.slice((int) (offset - w.start), length);
    }

    /** How many windows are mapped now (for tests). */
    int mappedWindows() {
        int n = 0;
        for (Window w : windows) {
            n += w == null ? 0 : 1;
        }
        return n;
    }

    private Window window(int k) {
        Window w = windows[k];
        if (w != null) {
            return w;
        }
        synchronized (mapLock) {
            w = windows[k];
            if (w == null) {
                long start = k * step;
                long len = Math.min(step + chunk, size - start);
                try {
                    w = new Window(start, channel.map(FileChannel.MapMode.READ_ONLY, start, len));
                } catch (ClosedChannelException e) {
                    throw closedError(e);
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot map " + path + " at " + start, e);
                }
                // Publication: a plain array store read without a lock elsewhere is safe here
                // because Window's fields other than the volatile flag are final, so a reader
                // that sees the reference sees a fully built window.
                windows[k] = w;
            }
            return w;
        }
    }

    /** Whether the current thread holds a lease on this file. */
    private boolean held() {
        return held.get()[0] > 0;
    }

    public void ensureOpen() {
        if (closed) {
            throw closedError(null);
        }
    }

    public boolean isClosed() {
        return closed;
    }

    private IllegalStateException closedError(Throwable cause) {
        return new IllegalStateException("checkpoint " + path + " is closed", cause);
    }

    /**
     * Closes the file: new leases fail from now on; waits until the leases held by other threads
     * end, then unmaps every window no view handed to user code points into (those are dropped,
     * for the garbage collector to unmap when their views die) and closes the channel. Called from
     * inside a read (a stream's sink), it returns at once and the read's end finishes the close.
     */
    @Override
    public void close() throws IOException {
        closer = Thread.currentThread();
        closed = true;
        if (held()) {
            // Waiting would wait for this very thread; its last release finishes the close.
            closeDeferred = true;
            return;
        }
        boolean interrupted = false;
        while (leases.get() != 0) {
            LockSupport.parkNanos(this, 1_000_000L);
            interrupted |= Thread.interrupted();
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        finishClose();
    }

    private void finishClose() {
        if (!released.compareAndSet(false, true)) {
            return;
        }
        synchronized (mapLock) {
            for (int k = 0; k < windows.length; k++) {
                Window w = windows[k];
                windows[k] = null;
                if (w != null && !w.escaped) {
                    Unmapper.unmap(w.mapping);
                }
            }
        }
        try {
            channel.close();
        } catch (IOException e) {
            // read-only: closing loses nothing, and the mappings are already released
        }
    }

    /** One window: its mapping (the buffer whose cleaner unmaps it) and a read-only view of it to slice. */
    private static final class Window {
        final long start;
        final MappedByteBuffer mapping;
        final ByteBuffer view;
        volatile boolean escaped;

        Window(long start, MappedByteBuffer mapping) {
            this.start = start;
            this.mapping = mapping;
            this.view = mapping.asReadOnlyBuffer();
        }
    }

}
