package io.torchbridge.writer.internal;

import io.torchbridge.reader.internal.data.StoredRecord;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongConsumer;
import java.util.zip.CRC32;

/**
 * The zip container exactly as PyTorch's {@code PyTorchStreamWriter} writes it
 * ({@code caffe2/serialize/inline_container.cc} over miniz): every record STORED with zero time,
 * zero CRC and sizes in the local header and the real ones in a data descriptor; data aligned by
 * an {@code FB} extra field padded with 'Z'; zip64 fields only where a size or offset needs
 * them; then the central directory, always a zip64 end record and locator, and the classic end
 * record. Records are written in order, each as its data arrives, so memory stays bounded: small
 * pieces gather in one write-behind buffer, large ones go straight to the file.
 */
public final class TorchZipWriter {
    private static final long MAX32 = 0xFFFFFFFFL;
    /**
     * The write-behind buffer: headers, data descriptors, small records and the central directory
     * gather here and reach the file in large writes, so a small record costs no system call.
     */
    private static final int BUFFER = 1 << 20;
    /** Pieces this large skip the buffer: written straight, behind what is buffered, in one gathering write. */
    private static final int STRAIGHT = 64 << 10;
    /** The scratch buffer sources convert their data in (see {@link StorageSource.Sink#scratch}). */
    private static final int SCRATCH = 1 << 20;
    /** A file-to-file copy goes in steps of this size, each followed by a progress report. */
    private static final long COPY_STEP = 16L << 20;
    private static final long PROGRESS_STEP = 1 << 20;

    private final FileChannel ch;
    private final String archive;
    private final int alignment;
    private final LongConsumer progress;
    private final List<Entry> entries = new ArrayList<>();
    // One of each per writer, reused by every record: allocating a direct buffer costs far more
    // than a small record's bytes (a fresh one per storage made small-tensor saves 10x slower).
    private final ByteBuffer pending = ByteBuffer.allocateDirect(BUFFER);
    private final ByteBuffer[] gather = new ByteBuffer[2];
    private final RecordSink sink = new RecordSink();
    private ByteBuffer scratch;
    /** Bytes of the archive so far, buffered ones included: where the next byte goes. */
    private long cursor;
    /** Bytes in the file: the channel's position. */
    private long written;
    private long reported;
    private long nameHash = 0xcbf29ce484222325L;
    private long crcHash;

    private record Entry(byte[] name, long offset, long size, long crc) {
    }

    public TorchZipWriter(FileChannel ch, String archive, int alignment, LongConsumer progress) {
        this.ch = ch;
        this.archive = archive;
        this.alignment = alignment;
        this.progress = progress;
    }

    /** A writer whose records sit at the top, in no folder, as in numpy.savez's {@code .npz}. */
    public static TorchZipWriter flat(FileChannel ch, int alignment, LongConsumer progress) {
        return new TorchZipWriter(ch, null, alignment, progress);
    }

    public void record(String name, byte[] data) throws IOException {
        record(name, data.length, sink -> sink.write(ByteBuffer.wrap(data)));
    }

    /** Writes record {@code name} of {@code size} bytes, streamed from {@code body}. */
    public void record(String name, long size, Body body) throws IOException {
        byte[] fullName = fullName(name);
        long offset = header(fullName, size);
        sink.start(name, size);
        body.writeTo(sink);
        trailer(fullName, offset, size, sink.finish());
    }

    /**
     * Writes record {@code name} with the bytes and the CRC of a read checkpoint's stored record,
     * unchanged: large records go file-to-file in the kernel ({@link StoredRecord#transferTo}),
     * small ones with one positioned read into the write-behind buffer. The CRC is not computed
     * again: it is the source's (PyTorch never checks CRCs, so a wrong one in the source stays
     * as wrong; the bytes are the same).
     */
    public void copy(String name, StoredRecord src) throws IOException {
        byte[] fullName = fullName(name);
        long size = src.size();
        long offset = header(fullName, size);
        if (size < STRAIGHT) {
            put(ByteBuffer.wrap(src.read()));
        } else {
            flush();
            for (long done = 0; done < size; ) {
                long n = Math.min(COPY_STEP, size - done);
                src.transferTo(done, n, ch);
                done += n;
                cursor += n;
                wrote(n);
            }
        }
        trailer(fullName, offset, size, src.crc());
    }

    private byte[] fullName(String name) {
        return (archive == null ? name : archive + "/" + name).getBytes(StandardCharsets.UTF_8);
    }

    /** The local header, with the padding that aligns the data; returns the header's offset. */
    private long header(byte[] fullName, long size) throws IOException {
        long offset = cursor;
        boolean zip64 = size >= MAX32 || offset >= MAX32;
        int zip64Len = zip64 ? 4 + (size >= MAX32 ? 16 : 0) + (offset >= MAX32 ? 8 : 0) : 0;
        long start = offset + 30 + fullName.length + 4 + zip64Len;
        int padding = (int) (start % alignment == 0 ? 0 : alignment - start % alignment);

        ByteBuffer h = le(30 + fullName.length + zip64Len + 4 + padding);
        h.putInt(0x04034b50).putShort((short) 0).putShort((short) (size > 0 ? 0x0808 : 0x0800))
                .putShort((short) 0).putInt(0).putInt(0).putInt(0).putInt(0)
                .putShort((short) fullName.length).putShort((short) (zip64Len + 4 + padding)).put(fullName);
        if (zip64) {
            h.putShort((short) 1).putShort((short) (zip64Len - 4));
            if (size >= MAX32) {
                h.putLong(size).putLong(0);
            }
            if (offset >= MAX32) {
                h.putLong(offset);
            }
        }
        h.put((byte) 'F').put((byte) 'B').putShort((short) padding);
        for (int i = 0; i < padding; i++) {
            h.put((byte) 'Z');
        }
        put(h.flip());
        return offset;
    }

    /** The data descriptor (none for an empty record), and the record's central-directory entry to come. */
    private void trailer(byte[] fullName, long offset, long size, long crcValue) throws IOException {
        boolean zip64 = size >= MAX32 || offset >= MAX32;
        if (size > 0) {
            ByteBuffer d = le(zip64 ? 24 : 16);
            d.putInt(0x08074b50).putInt((int) crcValue);
            if (zip64) {
                d.putLong(size).putLong(size);
            } else {
                d.putInt((int) size).putInt((int) size);
            }
            put(d.flip());
        }
        entries.add(new Entry(fullName, offset, size, crcValue));
        for (byte b : fullName) {
            nameHash = (nameHash ^ (b & 0xFF)) * 0x100000001b3L;
        }
        crcHash = crcHash * 31 + crcValue;
    }

    /** Receives one record's pieces: counts them against its size and computes its CRC. */
    private final class RecordSink implements StorageSource.Sink {
        private final CRC32 crc = new CRC32();
        private String name;
        private long size;
        private long seen;

        void start(String recordName, long recordSize) {
            name = recordName;
            size = recordSize;
            seen = 0;
            crc.reset();
        }

        @Override
        public void write(ByteBuffer piece) throws IOException {
            seen += piece.remaining();
            if (seen > size) {
                throw new IOException("record " + name + " produced more than its " + size + " bytes");
            }
            crc.update(piece.duplicate());
            put(piece);
        }

        @Override
        public ByteBuffer scratch() {
            if (scratch == null) {
                scratch = ByteBuffer.allocateDirect(SCRATCH).order(ByteOrder.LITTLE_ENDIAN);
            }
            return scratch.clear();
        }

        long finish() throws IOException {
            if (seen != size) {
                throw new IOException("record " + name + " produced " + seen + " of its " + size + " bytes");
            }
            return crc.getValue();
        }
    }

    /**
     * 40 digits standing where torch writes its serialization id (a hash of record names and one
     * of CRCs): deterministic for the same content.
     */
    public String serializationId() {
        return String.format("%020d%020d", nameHash & Long.MAX_VALUE, crcHash & Long.MAX_VALUE);
    }

    /** The central directory and end records. */
    public void finish() throws IOException {
        long cdStart = cursor;
        for (Entry e : entries) {
            boolean bigSize = e.size >= MAX32;
            boolean bigOffset = e.offset >= MAX32;
            int extra = (bigSize || bigOffset) ? 4 + (bigSize ? 16 : 0) + (bigOffset ? 8 : 0) : 0;
            ByteBuffer c = le(46 + e.name.length + extra);
            c.putInt(0x02014b50).putShort((short) 0).putShort((short) 0)
                    .putShort((short) (e.size > 0 ? 0x0808 : 0x0800)).putShort((short) 0).putInt(0)
                    .putInt((int) e.crc)
                    .putInt((int) (bigSize ? MAX32 : e.size)).putInt((int) (bigSize ? MAX32 : e.size))
                    .putShort((short) e.name.length).putShort((short) extra).putShort((short) 0)
                    .putShort((short) 0).putShort((short) 0).putInt(0)
                    .putInt((int) (bigOffset ? MAX32 : e.offset)).put(e.name);
            if (extra > 0) {
                c.putShort((short) 1).putShort((short) (extra - 4));
                if (bigSize) {
                    c.putLong(e.size).putLong(e.size);
                }
                if (bigOffset) {
                    c.putLong(e.offset);
                }
            }
            put(c.flip());
        }
        long cdSize = cursor - cdStart;
        long eocd64 = cursor;
        int n = entries.size();
        ByteBuffer z = le(56 + 20 + 22);
        z.putInt(0x06064b50).putLong(44).putShort((short) 0x031E).putShort((short) 0x002D).putInt(0).putInt(0)
                .putLong(n).putLong(n).putLong(cdSize).putLong(cdStart);
        z.putInt(0x07064b50).putInt(0).putLong(eocd64).putInt(1);
        z.putInt(0x06054b50).putShort((short) 0).putShort((short) 0)
                .putShort((short) Math.min(n, 0xFFFF)).putShort((short) Math.min(n, 0xFFFF))
                .putInt((int) Math.min(cdSize, MAX32)).putInt((int) Math.min(cdStart, MAX32)).putShort((short) 0);
        put(z.flip());
        flush();
    }

    /**
     * Appends {@code b}'s remaining bytes to the archive: small pieces into the write-behind
     * buffer, large ones straight to the file (after what is buffered, in one gathering write).
     */
    private void put(ByteBuffer b) throws IOException {
        int n = b.remaining();
        if (n < STRAIGHT) {
            if (n > pending.remaining()) {
                flush();
            }
            pending.put(b);
        } else {
            pending.flip();
            gather[0] = pending;
            gather[1] = b;
            long total = pending.remaining() + (long) n;
            while (b.hasRemaining()) { // a gathering write empties its buffers in order
                ch.write(gather);
            }
            gather[1] = null; // do not keep the caller's buffer (it may be a mapping) reachable
            pending.clear();
            wrote(total);
        }
        cursor += n;
    }

    /** Writes out the write-behind buffer. */
    private void flush() throws IOException {
        pending.flip();
        int n = pending.remaining();
        while (pending.hasRemaining()) {
            ch.write(pending);
        }
        pending.clear();
        wrote(n);
    }

    /** Counts bytes that reached the file; reports progress about once per MiB of them. */
    private void wrote(long n) {
        written += n;
        if (progress != null && written - reported >= PROGRESS_STEP) {
            reported = written;
            progress.accept(written);
        }
    }

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** A record's content, written as pieces. */
    @FunctionalInterface
    public interface Body {
        void writeTo(StorageSource.Sink sink) throws IOException;
    }
}
