package io.torchbridge.reader.internal.data;

import io.torchbridge.reader.internal.Checked;
import java.io.IOException;
import java.nio.channels.WritableByteChannel;
import java.util.Objects;

/**
 * A storage's bytes as they lie in a read checkpoint: an uncompressed (STORED) zip record, the
 * {@code region} of the file its data fills, with the CRC-32 its archive declares. What a writer
 * needs to copy the record file-to-file, unchanged, and to declare the same CRC without reading
 * the bytes.
 *
 * <p>The CRC is the source archive's, never recomputed: PyTorch never checks CRCs, so a file
 * whose CRC is wrong loads anyway, and a copy keeps the same bytes and the same wrong CRC.
 *
 * @param region the record's data in its file (offset, size, byte order)
 * @param crc    the CRC-32 the archive declares for the record (unsigned 32 bits)
 */
public record StoredRecord(MappedRegion region, long crc) {
    public StoredRecord {
        Objects.requireNonNull(region, "region");
    }

    /** The record's size, the storage's size in bytes. */
    public long size() {
        return region.length();
    }

    /** Copies bytes {@code [from, from + count)} of the record to {@code target} (see {@link MappedFile#transferTo}). */
    public void transferTo(long from, long count, WritableByteChannel target) throws IOException {
        if (!Checked.fits(from, count, size())) {
            throw new IndexOutOfBoundsException("[" + from + ", +" + count + ") outside a " + size() + "-byte record");
        }
        region.file().transferTo(region.offset() + from, count, target);
    }

    /** The record's bytes, read into a new array (for small records: one positioned read, no mapping). */
    public byte[] read() throws IOException {
        return region.file().read(region.offset(), Math.toIntExact(size()));
    }
}
