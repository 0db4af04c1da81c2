package io.torchbridge.reader.internal.zip;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.reader.internal.Checked;
import io.torchbridge.reader.internal.data.MappedFile;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.commons.compress.compressors.deflate.DeflateCompressorInputStream;
import org.apache.commons.compress.compressors.deflate.DeflateParameters;

/**
 * The zip archive of a checkpoint: its records by name (without the archive folder), each with
 * the absolute offset of its data. The index is read here, in one pass: the end records, the
 * whole central directory in one read, then every local header (for its data offset) in file
 * order through a sliding window, so opening costs a few reads whatever the number of records.
 * On top of the zip rules come PyTorch's: one top folder, names under it, data inside the file.
 * CRCs are not checked, as PyTorch does not check them. Deflated records are decoded by Commons
 * Compress.
 *
 * <p>Everything is read through the {@link MappedFile} given to {@link #open}, never from its
 * path again; the index holds no resource of its own once built.
 */
public final class ZipContainer implements AutoCloseable {
    /** Compression methods, APPNOTE 4.4.5: the two a checkpoint uses. */
    public static final int STORED = 0;
    public static final int DEFLATED = 8;

    /** One record: its name below the archive folder, where its bytes are, and their CRC-32 as declared. */
    public record Entry(String name, long dataOffset, long size, long compressedSize, int method, long crc) {
        public boolean stored() {
            return method == STORED;
        }
    }

    private final String archiveName;
    /** Every record but the numbered storages in {@link #storageRecords}, by name. */
    private final Map<String, Entry> entries;
    /**
     * The records {@code data/0}, {@code data/1}, ... (torch.save numbers its storages densely
     * from 0) by number: a checkpoint of 200k tensors has 200k of them, and a hash map entry and a
     * hashed name each were a tenth of an open.
     */
    private final Entry[] storageRecords;
    private final List<String> names;
    private final List<String> duplicates;

    private ZipContainer(String archiveName, Map<String, Entry> entries, Entry[] storageRecords, List<String> names,
                         List<String> duplicates) {
        this.archiveName = archiveName;
        this.entries = entries;
        this.storageRecords = storageRecords;
        this.names = Collections.unmodifiableList(names);
        this.duplicates = Collections.unmodifiableList(duplicates);
    }

    public static ZipContainer open(MappedFile file) throws CheckpointException {
        return open(file, false);
    }

    /**
     * Opens the archive; with {@code keepFirstDuplicate} a record name that appears twice keeps
     * its first entry (what PyTorch's reader uses) and is listed in {@link #duplicates()} instead
     * of refusing the file: how a scan sees what torch would read.
     *
     * <p>The index is read through {@code file}'s own channel, never from its path again, so the
     * index and the data mapped later come from the same file even if the path was replaced
     * after {@code file} was opened.
     */
    public static ZipContainer open(MappedFile file, boolean keepFirstDuplicate) throws CheckpointException {
        return open(file, 0, file.size(), keepFirstDuplicate);
    }

    /**
     * Opens an archive whose records sit at the top, in no folder ({@code numpy.savez}'s
     * {@code .npz}): every zip rule holds as for a checkpoint, except the archive folder;
     * {@link #archiveName()} is "".
     */
    public static ZipContainer openFlat(MappedFile file) throws CheckpointException {
        return open(file, 0, file.size(), false, true);
    }

    /**
     * Opens the archive that fills bytes {@code [start, start + length)} of {@code file} (one
     * {@code torch.save} output among several, as in a DCP {@code .distcp} file): every offset the
     * archive declares counts from {@code start}, as the writer counted them, and every record must
     * lie inside the window. The entries' {@link Entry#dataOffset()} are offsets in the file.
     */
    public static ZipContainer open(MappedFile file, long start, long length, boolean keepFirstDuplicate)
            throws CheckpointException {
        return open(file, start, length, keepFirstDuplicate, false);
    }

    private static ZipContainer open(MappedFile file, long start, long length, boolean keepFirstDuplicate, boolean flat)
            throws CheckpointException {
        if (start < 0 || length < 0 || !Checked.fits(start, length, file.size())) {
            throw new IllegalArgumentException("window [" + start + ", +" + length + ") outside the file");
        }
        try {
            return index(new Window(file, start, length), keepFirstDuplicate, flat);
        } catch (CheckpointException e) {
            throw e;
        } catch (IOException e) {
            throw CheckpointException.of(Kind.IO, "cannot read the zip index of " + file.path() + ": " + e)
                    .withCause(e);
        }
    }

    // The end records, APPNOTE 4.3.14 to 4.3.16: where zip puts them and how they point back.
    private static final int EOCD_SIGNATURE = 0x06054b50;
    private static final int EOCD_SIZE = 22;
    private static final int EOCD_ENTRIES = 10;
    private static final int EOCD_CD_SIZE = 12;
    private static final int EOCD_CD_OFFSET = 16;
    private static final int MAX_COMMENT = 0xFFFF;
    private static final int ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
    private static final int ZIP64_LOCATOR_SIZE = 20;
    private static final int ZIP64_LOCATOR_EOCD = 8;
    private static final int ZIP64_EOCD_SIGNATURE = 0x06064b50;
    private static final int ZIP64_EOCD_SIZE = 56;
    private static final int ZIP64_EOCD_ENTRIES = 32;
    private static final int ZIP64_EOCD_CD_SIZE = 40;
    private static final int ZIP64_EOCD_CD_OFFSET = 48;

    // The central directory header, APPNOTE 4.3.12, and the local file header, 4.3.7.
    private static final int CENTRAL_SIGNATURE = 0x02014b50;
    private static final int CENTRAL_SIZE = 46;
    private static final int CENTRAL_FLAGS = 8;
    private static final int CENTRAL_METHOD = 10;
    private static final int CENTRAL_CRC = 16;
    private static final int CENTRAL_CSIZE = 20;
    private static final int CENTRAL_SIZE_FIELD = 24;
    private static final int CENTRAL_NAME_LENGTH = 28;
    private static final int CENTRAL_EXTRA_LENGTH = 30;
    private static final int CENTRAL_COMMENT_LENGTH = 32;
    private static final int CENTRAL_LOCAL_HEADER = 42;
    private static final int LOCAL_SIGNATURE = 0x04034b50;
    private static final int LOCAL_SIZE = 30;
    private static final int LOCAL_NAME_LENGTH = 26;
    private static final int LOCAL_EXTRA_LENGTH = 28;

    /** General purpose flag bit 0 (APPNOTE 4.4.4): the record is encrypted. */
    private static final int FLAG_ENCRYPTED = 1;
    /** The zip64 extended information extra field, APPNOTE 4.5.3. */
    private static final int ZIP64_EXTRA = 0x0001;
    private static final long MAX32 = 0xFFFFFFFFL;
    /** At most how many bytes one read of local headers takes in (records of small tensors lie close together). */
    private static final int WINDOW = 64 * 1024;
    /**
     * The tail read first when looking for the end records (see {@link #index}): a torch.save
     * archive of one tensor (a DCP item) ends in about 560 bytes of central directory and end
     * records, so 1 KiB holds them; a larger directory is read on its own after it either way.
     */
    private static final int SHORT_TAIL = 1024;
    /**
     * The most bytes between two local headers that one read takes in too, rather than reading
     * the next one on its own: copying a few KiB costs about what a system call does, and reading
     * the data of large records only to skip it would cost as much as the file.
     */
    private static final int GAP = 4 * 1024;

    /** Where the central directory is and how many entries it declares, from the end records. */
    record Directory(long offset, long size, long count, long endRecords) {
    }

    /** The central directory's fields of every entry, in its order, before data offsets are known. */
    private static final class Central {
        /** The archive folder with its '/', from the first entry. */
        String folder;
        /** Names below the archive folder. */
        final String[] names;
        final int[] nameAt;
        final int[] nameLength;
        final int[] method;
        final long[] crc;
        final long[] size;
        final long[] compressedSize;
        final long[] localHeader;

        Central(int n) {
            names = new String[n];
            nameAt = new int[n];
            nameLength = new int[n];
            method = new int[n];
            crc = new long[n];
            size = new long[n];
            compressedSize = new long[n];
            localHeader = new long[n];
        }
    }

    /** The bytes an archive fills: a whole file, or a window of one; offsets count from its start. */
    private record Window(MappedFile file, long start, long size) {
        byte[] read(long position, int length) throws IOException {
            return file.read(start + position, length);
        }

        void read(long position, byte[] into, int length) throws IOException {
            file.read(start + position, into, length);
        }
    }

    private static ZipContainer index(Window file, boolean keepFirstDuplicate, boolean flat) throws IOException {
        long fileSize = file.size();
        // A short tail first: torch.save writes no comment, so the end records (and the central
        // directory of a small archive) lie in its last KiB. Reading the longest tail a
        // comment allows (64 KiB) for every archive cost a DCP directory of 4,806 items (each a
        // torch.save archive) 300 MB of copies and of garbage per open. The search is the same
        // backward scan either way, so where the short tail holds an end record with room for the
        // zip64 locator and record before it, the long one would find that same record; else the
        // long tail is read and searched as before.
        int shortLength = (int) Math.min(fileSize, SHORT_TAIL);
        long tailStart = fileSize - shortLength;
        byte[] tail = file.read(tailStart, shortLength);
        int found = endRecord(tail);
        if (shortLength < fileSize && (found < 0 || found < ZIP64_LOCATOR_SIZE + ZIP64_EOCD_SIZE)) {
            int tailLength = (int) Math.min(fileSize, EOCD_SIZE + MAX_COMMENT + ZIP64_LOCATOR_SIZE + ZIP64_EOCD_SIZE);
            tailStart = fileSize - tailLength;
            tail = file.read(tailStart, tailLength);
        }
        Directory dir = directory(file, tail, tailStart);

        byte[] cd;
        int cdStart;
        if (dir.offset() >= tailStart) { // a small archive: the directory was read with the tail
            cd = tail;
            cdStart = (int) (dir.offset() - tailStart);
        } else {
            cd = file.read(dir.offset(), Checked.arrayLength(dir.size(), null, "central directory size"));
            cdStart = 0;
        }
        int count = (int) dir.count(); // at most size / 46 (requireCountFitsCentralDirectory), so an int
        Central c = central(cd, cdStart, (int) dir.size(), count, dir.offset(), flat);
        long[] dataOffset = dataOffsets(file, c, cd, dir.offset());
        // The directory's bytes are not kept: the entries hold what is needed.

        Map<String, Entry> entries = new HashMap<>();
        Entry[] storageRecords = new Entry[count];
        List<String> names = new ArrayList<>(count);
        List<String> duplicates = new ArrayList<>();
        List<Span> spans = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            String name = c.names[i];
            long offset = dataOffset[i];
            long csize = c.compressedSize[i];
            requireDataInsideFile(name, offset, csize, fileSize);
            long dataEnd = Checked.add(offset, csize, name, "record data end");
            requireBeforeCentralDirectory(name, c.localHeader[i], dataEnd, dir.offset());
            spans.add(new Span(c.localHeader[i], dataEnd));
            Entry e = new Entry(name, file.start() + offset, c.size[i], csize, c.method[i], c.crc[i]);
            int number = storageNumber(name, count);
            boolean known = number >= 0 ? storageRecords[number] != null : entries.containsKey(name);
            if (number >= 0 && !known) {
                storageRecords[number] = e;
            } else if (!known) {
                entries.put(name, e);
            } else {
                requireDuplicatesKept(name, keepFirstDuplicate);
                duplicates.add(name);
                continue;
            }
            names.add(name);
        }
        requireNoOverlap(spans);
        return new ZipContainer(flat ? "" : c.folder.substring(0, c.folder.length() - 1), entries, storageRecords, names,
                duplicates);
    }

    /**
     * The end records: the classic one, searched backwards from the end over its largest comment
     * (the last signature found counts, as in miniz, the zip reader of PyTorch), then the zip64
     * locator and record where the locator is present (torch.save always writes them): their
     * values replace the classic ones, which are saturated past 65535 records or 4 GiB.
     */
    private static Directory directory(Window file, byte[] tail, long tailStart) throws IOException {
        int eocd = endRecord(tail);
        requireEndRecord(eocd, file.size());
        long count = uint16(tail, eocd + EOCD_ENTRIES);
        long size = uint32(tail, eocd + EOCD_CD_SIZE);
        long offset = uint32(tail, eocd + EOCD_CD_OFFSET);
        long endRecords = tailStart + eocd;
        int locator = eocd - ZIP64_LOCATOR_SIZE;
        if (locator >= 0 && int32(tail, locator) == ZIP64_LOCATOR_SIGNATURE) {
            long z64 = int64(tail, locator + ZIP64_LOCATOR_EOCD);
            long locatorAt = tailStart + locator;
            byte[] rec = Checked.fits(z64, ZIP64_EOCD_SIZE, locatorAt)
                    ? (z64 >= tailStart ? Arrays.copyOfRange(tail, (int) (z64 - tailStart),
                            (int) (z64 - tailStart) + ZIP64_EOCD_SIZE) : file.read(z64, ZIP64_EOCD_SIZE))
                    : null;
            requireZip64EndRecord(rec, z64, locatorAt);
            count = int64(rec, ZIP64_EOCD_ENTRIES);
            size = int64(rec, ZIP64_EOCD_CD_SIZE);
            offset = int64(rec, ZIP64_EOCD_CD_OFFSET);
            endRecords = z64;
        }
        Directory dir = new Directory(offset, size, count, endRecords);
        requireCentralDirectoryInFile(dir);
        requireCountFitsCentralDirectory(dir);
        return dir;
    }

    /** Where the classic end record starts in {@code tail}, or -1: the last signature found counts. */
    private static int endRecord(byte[] tail) {
        for (int i = tail.length - EOCD_SIZE, stop = Math.max(0, tail.length - EOCD_SIZE - MAX_COMMENT); i >= stop; i--) {
            if (int32(tail, i) == EOCD_SIGNATURE) {
                return i;
            }
        }
        return -1;
    }

    /**
     * How many bytes precede the archive that the file's end records describe: where its end
     * records are, less where they say they are (the zip64 end record, which torch.save always
     * writes, else the central directory's end). 0 for an archive that starts the file, or when
     * there are no end records to compare; more when the file is several archives one after another
     * (a DCP {@code .distcp} file) or has a prefix. Only for telling such a file from a damaged
     * one after {@link #open} refused it.
     */
    public static long leadingBytes(MappedFile file) throws IOException {
        long fileSize = file.size();
        int tailLength = (int) Math.min(fileSize, EOCD_SIZE + MAX_COMMENT + ZIP64_LOCATOR_SIZE + ZIP64_EOCD_SIZE);
        long tailStart = fileSize - tailLength;
        byte[] tail = file.read(tailStart, tailLength);
        int eocd = endRecord(tail);
        if (eocd < 0) {
            return 0;
        }
        int locator = eocd - ZIP64_LOCATOR_SIZE;
        int z64 = locator - ZIP64_EOCD_SIZE;
        if (z64 >= 0 && int32(tail, locator) == ZIP64_LOCATOR_SIGNATURE && int32(tail, z64) == ZIP64_EOCD_SIGNATURE) {
            return Math.max(0, tailStart + z64 - int64(tail, locator + ZIP64_LOCATOR_EOCD));
        }
        long cdEnd = uint32(tail, eocd + EOCD_CD_OFFSET) + uint32(tail, eocd + EOCD_CD_SIZE);
        return Math.max(0, tailStart + eocd - cdEnd);
    }

    /**
     * Every central entry, in order: its fields, its name (UTF-8, as Commons Compress and Python
     * read it; torch.save writes ASCII names) and the zip64 values of its saturated fields.
     * Nothing else is decoded: no timestamps, no other extra fields.
     */
    private static Central central(byte[] cd, int start, int length, int count, long cdOffset, boolean flat)
            throws CheckpointException {
        Central c = new Central(count);
        int end = start + length;
        int at = start;
        byte[] prefix = null;
        for (int i = 0; i < count; i++) {
            requireCentralHeader(cd, at, end, cdOffset + at - start);
            int nameLength = uint16(cd, at + CENTRAL_NAME_LENGTH);
            int extraLength = uint16(cd, at + CENTRAL_EXTRA_LENGTH);
            int next = at + CENTRAL_SIZE + nameLength + extraLength + uint16(cd, at + CENTRAL_COMMENT_LENGTH);
            requireCentralEntryInside(next, end, cdOffset + at - start);
            int nameAt = at + CENTRAL_SIZE;
            if (prefix == null && flat) {
                c.folder = "";
                prefix = new byte[0];
            } else if (prefix == null) {
                c.folder = requireArchiveFolder(new String(cd, nameAt, nameLength, StandardCharsets.UTF_8));
                prefix = Arrays.copyOfRange(cd, nameAt, nameAt + folderBytes(cd, nameAt));
            }
            requireInArchiveFolder(cd, nameAt, nameLength, prefix);
            String name = new String(cd, nameAt + prefix.length, nameLength - prefix.length, StandardCharsets.UTF_8);
            requireNotEncrypted(name, uint16(cd, at + CENTRAL_FLAGS));
            long size = uint32(cd, at + CENTRAL_SIZE_FIELD);
            long csize = uint32(cd, at + CENTRAL_CSIZE);
            long lho = uint32(cd, at + CENTRAL_LOCAL_HEADER);
            if (size == MAX32 || csize == MAX32 || lho == MAX32) {
                // APPNOTE 4.5.3: the zip64 field holds, in this order, only the values whose
                // 32-bit field is saturated.
                int field = zip64Field(cd, nameAt + nameLength, extraLength, name);
                int fieldEnd = field < 0 ? field : field + 4 + uint16(cd, field + 2);
                int p = field + 4;
                if (size == MAX32) {
                    requireZip64Value(name, "uncompressed size", p, fieldEnd);
                    size = int64(cd, p);
                    p += 8;
                }
                if (csize == MAX32) {
                    requireZip64Value(name, "compressed size", p, fieldEnd);
                    csize = int64(cd, p);
                    p += 8;
                }
                if (lho == MAX32) {
                    requireZip64Value(name, "local header offset", p, fieldEnd);
                    lho = int64(cd, p);
                }
            }
            requireKnownExtent(name, lho, csize, size);
            c.names[i] = name;
            c.nameAt[i] = nameAt;
            c.nameLength[i] = nameLength;
            c.method[i] = uint16(cd, at + CENTRAL_METHOD);
            c.crc[i] = uint32(cd, at + CENTRAL_CRC);
            c.size[i] = size;
            c.compressedSize[i] = csize;
            c.localHeader[i] = lho;
            at = next;
        }
        requireRecords(c.folder);
        requireEntriesFillCentralDirectory(at, end, count, cdOffset);
        return c;
    }

    /**
     * How many bytes of the name at {@code nameAt} are its archive folder with its '/': in UTF-8
     * a '/' byte is always the character '/', so the bytes before the first one are the folder
     * {@link #requireArchiveFolder} found.
     */
    private static int folderBytes(byte[] cd, int nameAt) {
        int i = nameAt;
        while (cd[i] != '/') {
            i++;
        }
        return i - nameAt + 1;
    }

    /**
     * Where the zip64 field starts in the extra block {@code [from, from + length)} of {@code cd},
     * or -1 if it has none. The block is a list of (id, size, data) fields that must tile it.
     */
    private static int zip64Field(byte[] cd, int from, int length, String record) throws CheckpointException {
        int end = from + length;
        int at = from;
        while (at < end) {
            requireExtraFieldInside(record, cd, at, end);
            if (uint16(cd, at) == ZIP64_EXTRA) {
                return at;
            }
            at += 4 + uint16(cd, at + 2);
        }
        return -1;
    }

    /**
     * Each record's data offset: its local header offset plus the header's own name and extra
     * lengths, which may differ from the central ones (torch.save pads the local extra field to
     * align the data). The headers are read in file order, each read taking in the headers that
     * follow while they lie close ({@link #GAP}) and within {@link #WINDOW} bytes: records of
     * small tensors cost no read each, records of large ones a read of their header alone.
     */
    private static long[] dataOffsets(Window file, Central c, byte[] cd, long cdOffset) throws IOException {
        int n = c.localHeader.length;
        int[] order = byLocalHeader(c.localHeader);
        long[] dataOffset = new long[n];
        // Sized by what is read (grown, at least doubling, up to WINDOW): a small archive, such as
        // each of a DCP file's thousands of items, needs a few hundred bytes, not 64 KiB.
        byte[] buf = new byte[0];
        int bufLength = 0;
        long bufStart = 0;
        for (int k = 0; k < n; k++) {
            int i = order[k];
            long at = c.localHeader[i];
            int need = LOCAL_SIZE + c.nameLength[i];
            requireLocalHeaderBeforeCentralDirectory(c.names[i], at, need, cdOffset);
            if (at < bufStart || at - bufStart > bufLength - need) {
                long readEnd = at + need;
                for (int j = k + 1; j < n; j++) {
                    long nextAt = c.localHeader[order[j]];
                    long nextEnd = nextAt + LOCAL_SIZE + c.nameLength[order[j]];
                    if (nextAt - readEnd > GAP || nextEnd - at > WINDOW) {
                        break;
                    }
                    readEnd = Math.max(readEnd, nextEnd);
                }
                // A crafted header may reach into the directory: it is refused when its turn comes.
                bufLength = (int) (Math.min(readEnd, cdOffset) - at);
                if (bufLength > buf.length) {
                    // WINDOW bounds only the gathering: one header with a long name may need more
                    buf = new byte[Math.max(bufLength, Math.min(2 * buf.length, WINDOW))];
                }
                file.read(at, buf, bufLength);
                bufStart = at;
            }
            int p = (int) (at - bufStart);
            requireLocalHeader(c.names[i], buf, p, at);
            requireLocalNameMatches(c.names[i], buf, p, cd, c.nameAt[i], c.nameLength[i], at);
            dataOffset[i] = at + LOCAL_SIZE + uint16(buf, p + LOCAL_NAME_LENGTH) + uint16(buf, p + LOCAL_EXTRA_LENGTH);
        }
        return dataOffset;
    }

    /** Entry indices by local header offset; torch.save writes them in order, which costs one pass to see. */
    private static int[] byLocalHeader(long[] localHeader) {
        int n = localHeader.length;
        boolean sorted = true;
        for (int i = 1; i < n && sorted; i++) {
            sorted = localHeader[i - 1] <= localHeader[i];
        }
        int[] order = new int[n];
        if (sorted) {
            Arrays.setAll(order, i -> i);
            return order;
        }
        Integer[] boxed = new Integer[n];
        Arrays.setAll(boxed, i -> i);
        Arrays.sort(boxed, Comparator.comparingLong(i -> localHeader[i]));
        Arrays.setAll(order, i -> boxed[i]);
        return order;
    }

    /** The bytes of one record in the file, from its local header to the end of its data. */
    record Span(long start, long end) {
    }

    // The invariants of a checkpoint's archive, one method each, in the order the index meets them:
    // first the end records and the central directory, then each central entry, then the local
    // headers in file order, then each record's data. Each names the record it refuses.

    /**
     * The classic end record is in the last 64 KiB + 22 bytes, where zip puts it ({@code at} is
     * -1 if its signature is not). The end of a zip is its index, so a file without one was cut
     * off: torch.save writes it last.
     */
    static void requireEndRecord(int at, long fileSize) throws CheckpointException {
        if (at < 0) { // safety: zip-end-record
            throw CheckpointException.of(Kind.TRUNCATED, "the zip's end record is missing, so the file was cut off ("
                    + fileSize + " bytes; an incomplete download or copy? compare its size with the original)");
        }
    }

    /**
     * The zip64 end record the locator points at lies before the locator and has its signature
     * ({@code rec} is null where it would not lie there).
     */
    static void requireZip64EndRecord(byte[] rec, long at, long locatorAt) throws CheckpointException {
        if (rec == null || int32(rec, 0) != ZIP64_EOCD_SIGNATURE) { // safety: zip64-end-record
            throw CheckpointException.at(Kind.MALFORMED, null, locatorAt, "the zip64 end locator points at "
                    + Long.toUnsignedString(at) + ", where there is no zip64 end record (a damaged file?)");
        }
    }

    /** The central directory lies inside the file, before the end records that point at it. */
    static void requireCentralDirectoryInFile(Directory dir) throws CheckpointException {
        if (!Checked.fits(dir.offset(), dir.size(), dir.endRecords())) { // safety: zip-central-directory-in-file
            throw CheckpointException.at(Kind.MALFORMED, null, dir.endRecords(), "the end record places the "
                    + "central directory at " + Long.toUnsignedString(dir.offset()) + " (" + Long.toUnsignedString(
                    dir.size()) + " bytes), not inside the file before the end records at " + dir.endRecords()
                    + " (a damaged file?)");
        }
    }

    /**
     * The declared number of entries can be in the central directory, each at least 46 bytes:
     * it is how many are allocated for, so a crafted count is refused before any allocation.
     */
    static void requireCountFitsCentralDirectory(Directory dir) throws CheckpointException {
        if (dir.count() < 0 || dir.count() > dir.size() / CENTRAL_SIZE) { // safety: zip-entry-count
            throw CheckpointException.at(Kind.MALFORMED, null, dir.endRecords(), "the end record declares "
                    + Long.toUnsignedString(dir.count()) + " records, more than its " + dir.size()
                    + "-byte central directory can hold (a damaged file?)");
        }
    }

    /** An entry of the central directory starts with its signature, and its fixed fields are inside it. */
    static void requireCentralHeader(byte[] cd, int at, int end, long offset) throws CheckpointException {
        if (end - at < CENTRAL_SIZE || int32(cd, at) != CENTRAL_SIGNATURE) { // safety: zip-central-header
            throw CheckpointException.at(Kind.MALFORMED, null, offset, "no central directory entry where the end "
                    + "record says there is one (a damaged file?)");
        }
    }

    /** The entry's name, extra field and comment end inside the central directory ({@code next} is where they end). */
    static void requireCentralEntryInside(int next, int end, long offset) throws CheckpointException {
        if (next > end) { // safety: zip-central-entry-inside
            throw CheckpointException.at(Kind.MALFORMED, null, offset, "a central directory entry runs past the "
                    + "end of the central directory (a damaged file?)");
        }
    }

    /**
     * The first record lies in a folder; returns that folder with its '/'. torch/serialization.py,
     * _load: the archive folder is whatever precedes the first '/' of the first record; its name
     * is never checked.
     */
    static String requireArchiveFolder(String first) throws CheckpointException {
        int slash = first.indexOf('/');
        if (slash <= 0) { // safety: zip-archive-folder
            throw CheckpointException.at(Kind.MALFORMED, first, -1,
                    "the first record is not inside an archive folder, as torch.save writes it");
        }
        return first.substring(0, slash + 1);
    }

    /** Every record lies in the first record's folder: its name at {@code nameAt} starts with {@code prefix}. */
    static void requireInArchiveFolder(byte[] cd, int nameAt, int nameLength, byte[] prefix) throws CheckpointException {
        boolean inside = nameLength >= prefix.length
                && Arrays.equals(cd, nameAt, nameAt + prefix.length, prefix, 0, prefix.length);
        if (!inside) { // safety: zip-in-archive-folder
            throw CheckpointException.at(Kind.MALFORMED, new String(cd, nameAt, nameLength, StandardCharsets.UTF_8),
                    -1, "record lies outside the archive folder '" + new String(prefix, StandardCharsets.UTF_8) + "'");
        }
    }

    /**
     * The record is not encrypted: its bytes would not be what they are. torch.save never
     * encrypts, and PyTorch's reader (miniz) refuses encrypted records.
     */
    static void requireNotEncrypted(String name, int flags) throws CheckpointException {
        if ((flags & FLAG_ENCRYPTED) != 0) { // safety: zip-not-encrypted
            throw CheckpointException.at(Kind.UNSUPPORTED, name, -1, "record is encrypted; PyTorch writes no "
                    + "encrypted records");
        }
    }

    /** Each extra field, its header at {@code at} (id, size) and its data, lies inside the entry's extra block. */
    static void requireExtraFieldInside(String name, byte[] cd, int at, int end) throws CheckpointException {
        if (end - at < 4 || uint16(cd, at + 2) > end - at - 4) { // safety: zip-extra-field-inside
            throw CheckpointException.at(Kind.MALFORMED, name, -1, "record's extra field is cut short "
                    + "(a damaged file?)");
        }
    }

    /**
     * A size or offset saturated at 0xFFFFFFFF has its 64-bit value in the zip64 field, whose
     * value at {@code at} ends by {@code fieldEnd} (negative if the record has no zip64 field).
     */
    static void requireZip64Value(String name, String what, int at, int fieldEnd) throws CheckpointException {
        if (fieldEnd < 0 || fieldEnd - at < 8) { // safety: zip64-value
            throw CheckpointException.at(Kind.MALFORMED, name, -1, "record's " + what + " is 0xFFFFFFFF but its "
                    + "zip64 extra field does not hold it (a damaged file?)");
        }
    }

    /**
     * The record's local header offset and sizes are non-negative: zip64 values are unsigned
     * 64-bit, and one past 2^63 is no offset or size a file can have.
     */
    static void requireKnownExtent(String name, long offset, long csize, long size) throws CheckpointException {
        if (offset < 0 || csize < 0 || size < 0) { // safety: zip-known-extent
            throw CheckpointException.at(Kind.MALFORMED, name, -1, "record has no valid data offset or size");
        }
    }

    /** The archive has at least one record ({@code prefix} is null when it has none). */
    static void requireRecords(String prefix) throws CheckpointException {
        if (prefix == null) { // safety: zip-has-records
            throw CheckpointException.of(Kind.MALFORMED, "the zip archive has no records");
        }
    }

    /**
     * The declared entries fill the central directory exactly ({@code at} is where the last one
     * ends): bytes left over would be entries that readers counting differently see and we do not.
     */
    static void requireEntriesFillCentralDirectory(int at, int end, int count, long cdOffset) throws CheckpointException {
        if (at != end) { // safety: zip-entries-fill-central-directory
            throw CheckpointException.at(Kind.MALFORMED, null, cdOffset, "the central directory has " + (end - at)
                    + " bytes after its " + count + " declared records (a crafted or damaged archive)");
        }
    }

    /** The local header and the name in it lie before the central directory. */
    static void requireLocalHeaderBeforeCentralDirectory(String name, long at, int length, long cdOffset)
            throws CheckpointException {
        if (!Checked.fits(at, length, cdOffset)) { // safety: zip-local-header-before-central-directory
            throw CheckpointException.at(Kind.MALFORMED, name, at, "record's local header at " + at + " overlaps "
                    + "the central directory at " + cdOffset + " (a crafted or damaged archive)");
        }
    }

    /** A local header starts at {@code buf[p]}, the file's byte {@code at}. */
    static void requireLocalHeader(String name, byte[] buf, int p, long at) throws CheckpointException {
        if (int32(buf, p) != LOCAL_SIGNATURE) { // safety: zip-local-header
            throw CheckpointException.at(Kind.MALFORMED, name, at, "no local header where the central directory "
                    + "places the record (a damaged file?)");
        }
    }

    /**
     * The local header names the record its central entry names: where they differ, readers that
     * trust one or the other see different archives (a crafted one).
     */
    static void requireLocalNameMatches(String name, byte[] buf, int p, byte[] cd, int nameAt, int nameLength,
                                        long at) throws CheckpointException {
        boolean same = uint16(buf, p + LOCAL_NAME_LENGTH) == nameLength
                && Arrays.equals(buf, p + LOCAL_SIZE, p + LOCAL_SIZE + nameLength, cd, nameAt, nameAt + nameLength);
        if (!same) { // safety: zip-local-name-matches
            throw CheckpointException.at(Kind.MALFORMED, name, at, "record's local header names another record "
                    + "than its central directory entry (a crafted archive)");
        }
    }

    /** The record's stored bytes lie inside the file (else the file was cut off). */
    static void requireDataInsideFile(String name, long offset, long csize, long fileSize) throws CheckpointException {
        if (!Checked.fits(offset, csize, fileSize)) { // safety: zip-data-inside-file
            // Both are non-negative (requireKnownExtent), so their sum fits 64 bits unsigned.
            throw CheckpointException.at(Kind.TRUNCATED, name, -1, "record data [" + offset + ", "
                    + Long.toUnsignedString(offset + csize) + ") extends past the end of the " + fileSize
                    + "-byte file (an incomplete download or copy?)");
        }
    }

    /** The record, header and data, lies before the central directory, as zip writes it. */
    static void requireBeforeCentralDirectory(String name, long localHeader, long dataEnd, long cdOffset)
            throws CheckpointException {
        if (dataEnd > cdOffset || localHeader >= cdOffset) { // safety: zip-before-central-directory
            throw CheckpointException.at(Kind.MALFORMED, name, -1, "record data overlaps the central "
                    + "directory at " + cdOffset + " (a crafted or damaged archive)");
        }
    }

    /** A name appears once, unless the caller asked to keep the first of each (a scan). */
    static void requireDuplicatesKept(String name, boolean keepFirstDuplicate) throws CheckpointException {
        if (!keepFirstDuplicate) { // safety: zip-unique-names
            throw CheckpointException.at(Kind.MALFORMED, name, -1, "record appears twice in the archive "
                    + "(readers may disagree on which one counts: a crafted archive)");
        }
    }

    /**
     * Records may not share bytes: overlapping entries are how zip bombs and parser-confusion
     * archives are built, and torch.save never writes them. Sorts {@code spans}.
     */
    static void requireNoOverlap(List<Span> spans) throws CheckpointException {
        spans.sort(Comparator.comparingLong(Span::start));
        for (int i = 1; i < spans.size(); i++) {
            if (spans.get(i).start() < spans.get(i - 1).end()) { // safety: zip-no-overlap
                throw CheckpointException.of(Kind.MALFORMED, "two records overlap at byte " + spans.get(i).start()
                        + " (a crafted or damaged archive)");
            }
        }
    }

    /** The record's declared size is within {@code max}: refused before anything is read. */
    static void requireDeclaredWithinLimit(Entry e, long max) throws CheckpointException {
        if (e.size() > max) { // safety: zip-declared-size-limit
            throw CheckpointException.at(Kind.LIMIT_EXCEEDED, e.name(), -1, "record is " + e.size()
                    + " bytes, over the limit of " + max + " (ReadOptions.maxPickleBytes)");
        }
    }

    /** A stored record holds its bytes as they are, so both its sizes are the same. */
    static void requireStoredSizesAgree(Entry e) throws CheckpointException {
        if (e.size() != e.compressedSize()) { // safety: zip-stored-sizes-agree
            throw CheckpointException.at(Kind.MALFORMED, e.name(), -1, "stored record's sizes differ");
        }
    }

    /**
     * The record is stored or deflated. torch writes STORED records and TorchScript DEFLATED
     * ones; any other method (bzip2, zstd, ...) needs codecs a checkpoint never uses.
     */
    static void requireKnownMethod(Entry e) throws CheckpointException {
        if (!e.stored() && e.method() != DEFLATED) { // safety: zip-known-method
            throw CheckpointException.at(Kind.UNSUPPORTED, e.name(), -1, "record uses zip compression method "
                    + e.method() + "; PyTorch writes records stored or deflated (re-save the file with torch.save)");
        }
    }

    /**
     * The record's inflated bytes, at most {@code max}: the declared size may lie, so inflation
     * stops at {@code max + 1} bytes whatever the header claims, and a zip bomb stops here.
     */
    static byte[] requireExpansionWithinLimit(Entry e, InputStream inflated, long max) throws IOException {
        byte[] b = inflated.readNBytes((int) Math.min(max, Integer.MAX_VALUE - 9) + 1);
        if (b.length > max) { // safety: zip-expansion-cap
            throw CheckpointException.at(Kind.LIMIT_EXCEEDED, e.name(), -1,
                    "record expands past the limit of " + max + " bytes");
        }
        return b;
    }

    /** Record names that appeared again after their first entry (only when opened to keep the first). */
    public List<String> duplicates() {
        return duplicates;
    }

    /** The top folder, which torch.save names after the file. */
    public String archiveName() {
        return archiveName;
    }

    public Optional<Entry> entry(String name) {
        int number = storageNumber(name, storageRecords.length);
        return Optional.ofNullable(number >= 0 ? storageRecords[number] : entries.get(name));
    }

    /**
     * N for a record named {@code data/N} with N below {@code limit} written as torch writes it
     * (decimal, no sign, no leading zero), else -1: such records are kept by number.
     */
    static int storageNumber(String name, int limit) {
        return name.startsWith("data/") ? decimal(name, 5, limit) : -1;
    }

    /**
     * The record {@code data/KEY}, the storage a pickle names by {@code KEY}, or empty: as
     * {@link #entry(String)} of that name, without making the name for a numbered one.
     */
    public Optional<Entry> storageRecord(String key) {
        int number = decimal(key, 0, storageRecords.length);
        return number >= 0 ? Optional.ofNullable(storageRecords[number]) : Optional.ofNullable(entries.get("data/" + key));
    }

    /**
     * The number {@code s} spells from {@code from} on, if it is below {@code limit} and written as
     * torch writes storage keys (decimal digits only, no leading zero), else -1.
     */
    public static int decimal(String s, int from, int limit) {
        int n = s.length();
        if (n <= from || n - from > 10 || (s.charAt(from) == '0' && n > from + 1)) {
            return -1;
        }
        long v = 0;
        for (int i = from; i < n; i++) {
            char ch = s.charAt(i);
            if (ch < '0' || ch > '9') {
                return -1;
            }
            v = v * 10 + (ch - '0');
        }
        return v < limit ? (int) v : -1;
    }

    /** Record names in central-directory order (each once). */
    public List<String> names() {
        return names;
    }

    /** The whole record, decompressed if it is compressed, refusing records over {@code max} bytes. */
    public byte[] read(MappedFile file, Entry e, long max) throws CheckpointException {
        requireDeclaredWithinLimit(e, max);
        try {
            if (e.stored()) {
                requireStoredSizesAgree(e);
                return file.read(e.dataOffset(), Checked.arrayLength(e.size(), e.name(), "record size"));
            }
            requireKnownMethod(e);
            // APPNOTE 4.4.5 method 8: raw deflate, no zlib header, over exactly the compressed bytes.
            DeflateParameters raw = new DeflateParameters();
            raw.setWithZlibHeader(false);
            try (InputStream in = new DeflateCompressorInputStream(
                    new RecordBytes(file, e.dataOffset(), e.compressedSize()), raw)) {
                return requireExpansionWithinLimit(e, in, max);
            }
        } catch (CheckpointException ex) {
            throw ex;
        } catch (IOException | RuntimeException | LinkageError ex) {
            throw CheckpointException.at(Kind.MALFORMED, e.name(), -1, "cannot read record: " + ex)
                    .withCause(ex);
        }
    }

    /** The index holds nothing open (the {@link MappedFile} belongs to its opener); kept so that callers need not know. */
    @Override
    public void close() {
    }

    /**
     * A record's compressed bytes read from the file in pieces (only as many as the inflater
     * asks for, so a capped read of a large record stops early), then one zero byte: the
     * "dummy" byte that {@link java.util.zip.Inflater} wants after raw deflate data, as
     * java.util.zip.ZipFile gives it.
     */
    private static final class RecordBytes extends InputStream {
        private static final int PIECE = 64 * 1024;
        private final MappedFile file;
        private final long end;
        private long position;
        private boolean dummyGiven;

        RecordBytes(MappedFile file, long offset, long length) {
            this.file = file;
            this.position = offset;
            this.end = offset + length; // inside the file (requireDataInsideFile)
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            if (position == end) {
                if (dummyGiven) {
                    return -1;
                }
                dummyGiven = true;
                b[off] = 0;
                return 1;
            }
            int n = (int) Math.min(Math.min(len, PIECE), end - position);
            System.arraycopy(file.read(position, n), 0, b, off, n);
            position += n;
            return n;
        }
    }

    private static int uint16(byte[] b, int at) {
        return (b[at] & 0xFF) | (b[at + 1] & 0xFF) << 8;
    }

    private static int int32(byte[] b, int at) {
        return (b[at] & 0xFF) | (b[at + 1] & 0xFF) << 8 | (b[at + 2] & 0xFF) << 16 | (b[at + 3] & 0xFF) << 24;
    }

    private static long uint32(byte[] b, int at) {
        return Integer.toUnsignedLong(int32(b, at));
    }

    private static long int64(byte[] b, int at) {
        return uint32(b, at) | (long) int32(b, at + 4) << 32;
    }
}
