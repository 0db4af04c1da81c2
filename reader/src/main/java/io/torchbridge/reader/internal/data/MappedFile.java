package io.torchbridge.reader.internal.data;

import io.torchbridge.reader.internal.Checked;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * An open checkpoint file: the one channel its zip index, its records and its mapped regions are
 * all read from, so that they come from the same file even if the path is replaced meanwhile
 * (writers, ours included, replace files by an atomic rename).
 *
 * <p>Owner of the channel; {@link #close()} closes it, and nothing else does: others read it
 * through {@link #read} or {@link #region}. Mappings
 * already handed out stay valid (Java 17 cannot unmap safely, and a mapping outlives its
 * channel), so a view used after close reads correct data and can never crash the JVM; new
 * accesses fail with {@link IllegalStateException}.
 */
public final class MappedFile implements AutoCloseable {
    private final Path path;
    private final FileChannel channel;
    private final long size;
    private volatile boolean closed;

    private MappedFile(Path path, FileChannel channel, long size) {
        this.path = path;
        this.channel = channel;
        this.size = size;
    }

    public static MappedFile open(Path path) throws IOException {
        FileChannel ch = FileChannel.open(path, StandardOpenOption.READ);
        try {
            return new MappedFile(path, ch, ch.size());
        } catch (RuntimeException e) {
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

    /** Reads exactly {@code length} bytes at {@code position} into a new array. */
    public byte[] read(long position, int length) throws IOException {
        ensureOpen();
        if (!Checked.fits(position, length, size)) {
            throw new EOFException(length + " bytes at " + position + " reach past the end of the "
                    + size + "-byte file");
        }
        ByteBuffer buf = ByteBuffer.allocate(length);
        while (buf.hasRemaining()) {
            int n = channel.read(buf, position + buf.position());
            if (n < 0) {
                throw new EOFException("end of file at " + (position + buf.position()));
            }
        }
        return buf.array();
    }

    /**
     * A lazily mapped region of the file; {@code [offset, offset + length)} must lie inside it
     * (the zip index checks every record's extent before a region is made of it).
     */
    public MappedRegion region(long offset, long length, ByteOrder order) {
        if (!Checked.fits(offset, length, size)) {
            throw new IllegalArgumentException("region [" + offset + ", +" + length + ") lies outside the "
                    + size + "-byte file");
        }
        return new MappedRegion(this, offset, length, order);
    }

    MappedByteBuffer map(long offset, long length) {
        ensureOpen();
        try {
            return channel.map(FileChannel.MapMode.READ_ONLY, offset, length);
        } catch (java.nio.channels.ClosedChannelException e) {
            // closed by another thread between the check above and the map
            throw new IllegalStateException("checkpoint " + path + " is closed", e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot map " + path + " at " + offset, e);
        }
    }

    public void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("checkpoint " + path + " is closed");
        }
    }

    public boolean isClosed() {
        return closed;
    }

    @Override
    public void close() throws IOException {
        closed = true;
        channel.close();
    }
}
