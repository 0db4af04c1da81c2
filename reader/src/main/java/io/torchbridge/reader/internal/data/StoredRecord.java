package io.torchbridge.reader.internal.data;

import io.torchbridge.reader.internal.Checked;
import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;
import java.util.Objects;

/**
 * A storage's bytes as they lie in a read checkpoint: an uncompressed (STORED) zip record of
 * {@code file}, with the CRC-32 its archive declares. What a writer needs to copy the record
 * file-to-file, unchanged, and to declare the same CRC without reading the bytes.
 *
 * <p>The CRC is the source archive's, never recomputed: PyTorch never checks CRCs, so a file
 * whose CRC is wrong loads anyway, and a copy keeps the same bytes and the same wrong CRC.
 *
 * @param dataOffset where the record's bytes start in {@code file}
 * @param size       the record's size, the storage's size in bytes
 * @param crc        the CRC-32 the archive declares for the record (unsigned 32 bits)
 * @param order      the byte order of the data in the record (the checkpoint's {@code byteorder})
 */
public record StoredRecord(MappedFile file, long dataOffset, long size, long crc, ByteOrder order) {
    public StoredRecord {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(order, "order");
        if (size < 0 || !Checked.fits(dataOffset, size, file.size())) {
            throw new IllegalArgumentException("record [" + dataOffset + ", +" + size + ") lies outside the "
                    + file.size() + "-byte file");
        }
    }

    /** Copies bytes {@code [from, from + count)} of the record to {@code target} (see {@link MappedFile#transferTo}). */
    public void transferTo(long from, long count, WritableByteChannel target) throws IOException {
        if (!Checked.fits(from, count, size)) {
            throw new IndexOutOfBoundsException("[" + from + ", +" + count + ") outside a " + size + "-byte record");
        }
        file.transferTo(dataOffset + from, count, target);
    }

    /** The record's bytes, read into a new array (for small records: one positioned read, no mapping). */
    public byte[] read() throws IOException {
        return file.read(dataOffset, Math.toIntExact(size));
    }
}
