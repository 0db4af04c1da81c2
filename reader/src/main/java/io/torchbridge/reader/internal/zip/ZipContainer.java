package io.torchbridge.reader.internal.zip;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.reader.internal.Checked;
import io.torchbridge.reader.internal.data.MappedFile;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.commons.compress.archivers.zip.ZipArchiveEntry;
import org.apache.commons.compress.archivers.zip.ZipFile;

/**
 * The zip archive of a checkpoint: its records by name (without the archive folder), each with
 * the absolute offset of its data. Commons Compress reads the central directory, zip64 and local
 * headers; this class adds PyTorch's rules: one top folder, names under it, data inside the file.
 * CRCs are not checked, as PyTorch does not check them.
 *
 * <p>Commons Compress reads through a channel borrowed from the {@link MappedFile}, which owns
 * it: {@link #close()} ends the borrowing and leaves the file open for its owner to close.
 */
public final class ZipContainer implements AutoCloseable {
    /**
     * One record: its name below the archive folder, where its bytes are, and the CRC-32 the
     * archive declares for them (never checked here, as PyTorch never checks it).
     */
    public record Entry(String name, long dataOffset, long size, long compressedSize, int method, long crc) {
        public boolean stored() {
            return method == ZipArchiveEntry.STORED;
        }
    }

    private final ZipFile zip;
    private final String archiveName;
    private final Map<String, Entry> entries;
    private final Map<String, ZipArchiveEntry> raw;
    private final List<String> duplicates;

    private ZipContainer(ZipFile zip, String archiveName, Map<String, Entry> entries,
                         Map<String, ZipArchiveEntry> raw, List<String> duplicates) {
        this.zip = zip;
        this.archiveName = archiveName;
        this.entries = entries;
        this.raw = raw;
        this.duplicates = duplicates;
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
     * after {@code file} was opened. {@code file} stays the owner of that channel.
     */
    public static ZipContainer open(MappedFile file, boolean keepFirstDuplicate) throws CheckpointException {
        ZipFile zip;
        try {
            zip = ZipFile.builder().setSeekableByteChannel(file.borrowChannel()).get();
        } catch (IOException | RuntimeException e) {
            if (!hasEndRecord(file)) {
                throw CheckpointException.of(Kind.TRUNCATED, "the zip's end record is missing, so the file "
                        + "was cut off (" + file.size() + " bytes; an incomplete download or copy? compare its "
                        + "size with the original)").withCause(e);
            }
            throw CheckpointException.of(Kind.MALFORMED, "not a readable zip archive: " + reason(e)
                    + " (a damaged file? compare its size and checksum with the original)").withCause(e);
        }
        try {
            return index(zip, file.size(), centralDirectoryOffset(file), keepFirstDuplicate);
        } catch (CheckpointException | RuntimeException e) {
            ZipFile.closeQuietly(zip);
            throw e;
        }
    }

    /**
     * What Commons Compress found wrong: it wraps the reason in "Error reading Zip content from
     * [the channel's class name]", which says nothing here, so the reason is its cause.
     */
    private static String reason(Exception e) {
        Throwable cause = e.getCause();
        if (e.getMessage() != null && e.getMessage().startsWith("Error reading Zip content") && cause != null
                && cause.getMessage() != null) {
            return cause.getMessage();
        }
        return e.getMessage();
    }

    // The end records, APPNOTE 4.3.14 to 4.3.16: where zip puts them and how they point back.
    private static final int EOCD_SIGNATURE = 0x06054b50;
    private static final int EOCD_SIZE = 22;
    private static final int EOCD_CD_OFFSET = 16;
    private static final int MAX_COMMENT = 0xFFFF;
    private static final int ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
    private static final int ZIP64_LOCATOR_SIZE = 20;
    private static final int ZIP64_EOCD_SIGNATURE = 0x06064b50;
    private static final int ZIP64_EOCD_SIZE = 56;
    private static final int ZIP64_EOCD_CD_OFFSET = 48;

    /** The last {@code 22 + 65535} bytes of the file (fewer if it is shorter): where the end record lies. */
    private static ByteBuffer tail(MappedFile file) throws IOException {
        int n = (int) Math.min(file.size(), EOCD_SIZE + MAX_COMMENT);
        return ByteBuffer.wrap(file.read(file.size() - n, n)).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Where the central directory starts, from the end records (zip64 where the classic one is
     * saturated). Commons Compress has read them already but does not say.
     */
    private static long centralDirectoryOffset(MappedFile file) throws CheckpointException {
        try {
            ByteBuffer tail = tail(file);
            for (int i = tail.capacity() - EOCD_SIZE; i >= 0; i--) {
                if (tail.getInt(i) != EOCD_SIGNATURE) {
                    continue;
                }
                long cd = Integer.toUnsignedLong(tail.getInt(i + EOCD_CD_OFFSET));
                int locator = i - ZIP64_LOCATOR_SIZE;
                if (cd == 0xFFFFFFFFL && locator >= 0 && tail.getInt(locator) == ZIP64_LOCATOR_SIGNATURE) {
                    long z64 = tail.getLong(locator + 8);
                    if (!Checked.fits(z64, ZIP64_EOCD_SIZE, file.size())) {
                        break;
                    }
                    ByteBuffer rec = ByteBuffer.wrap(file.read(z64, ZIP64_EOCD_SIZE)).order(ByteOrder.LITTLE_ENDIAN);
                    if (rec.getInt(0) == ZIP64_EOCD_SIGNATURE) {
                        cd = rec.getLong(ZIP64_EOCD_CD_OFFSET);
                    }
                }
                return cd;
            }
        } catch (IOException e) {
            // fall through
        }
        throw CheckpointException.of(Kind.MALFORMED, "cannot locate the zip's central directory");
    }

    /** Whether the end-of-central-directory signature is in the last 64 KiB + 22 bytes, where zip puts it. */
    private static boolean hasEndRecord(MappedFile file) {
        try {
            ByteBuffer tail = tail(file);
            for (int i = tail.capacity() - EOCD_SIZE; i >= 0; i--) {
                if (tail.getInt(i) == EOCD_SIGNATURE) {
                    return true;
                }
            }
            return false;
        } catch (IOException e) {
            return false;
        }
    }

    private static ZipContainer index(ZipFile zip, long fileSize, long cdOffset, boolean keepFirstDuplicate)
            throws CheckpointException {
        Map<String, Entry> entries = new LinkedHashMap<>();
        Map<String, ZipArchiveEntry> raw = new LinkedHashMap<>();
        List<Span> spans = new ArrayList<>();
        List<String> duplicates = new ArrayList<>();
        String prefix = null;
        Enumeration<ZipArchiveEntry> all = zip.getEntries();
        while (all.hasMoreElements()) {
            ZipArchiveEntry e = all.nextElement();
            String full = e.getName();
            if (prefix == null) {
                prefix = requireArchiveFolder(full);
            }
            requireInArchiveFolder(full, prefix);
            String name = full.substring(prefix.length());
            long offset = e.getDataOffset();
            long csize = e.getCompressedSize();
            requireKnownExtent(name, offset, csize, e.getSize());
            requireDataInsideFile(name, offset, csize, fileSize);
            long dataEnd = Checked.add(offset, csize, name, "record data end");
            requireBeforeCentralDirectory(name, e.getLocalHeaderOffset(), dataEnd, cdOffset);
            spans.add(new Span(e.getLocalHeaderOffset(), dataEnd));
            if (entries.putIfAbsent(name, new Entry(name, offset, e.getSize(), csize, e.getMethod(), e.getCrc())) != null) {
                requireDuplicatesKept(name, keepFirstDuplicate);
                duplicates.add(name);
                continue;
            }
            raw.put(name, e);
        }
        requireRecords(prefix);
        requireNoOverlap(spans);
        return new ZipContainer(zip, prefix.substring(0, prefix.length() - 1), entries, raw, duplicates);
    }

    /** The bytes of one record in the file, from its local header to the end of its data. */
    record Span(long start, long end) {
    }

    // The invariants of a checkpoint's archive, one method each, in the order the index meets them
    // (after Commons Compress's sanityCheckLFHOffset). Each names the record it refuses.

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

    /** Every record lies in the first record's folder. */
    static void requireInArchiveFolder(String full, String prefix) throws CheckpointException {
        if (!full.startsWith(prefix)) { // safety: zip-in-archive-folder
            throw CheckpointException.at(Kind.MALFORMED, full, -1,
                    "record lies outside the archive folder '" + prefix + "'");
        }
    }

    /** Commons Compress found the record's data and knows its sizes (-1 where it does not). */
    static void requireKnownExtent(String name, long offset, long csize, long size) throws CheckpointException {
        if (offset < 0 || csize < 0 || size < 0) { // safety: zip-known-extent
            throw CheckpointException.at(Kind.MALFORMED, name, -1, "record has no valid data offset or size");
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

    /** The archive has at least one record ({@code prefix} is null when it has none). */
    static void requireRecords(String prefix) throws CheckpointException {
        if (prefix == null) { // safety: zip-has-records
            throw CheckpointException.of(Kind.MALFORMED, "the zip archive has no records");
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
        if (!e.stored() && e.method() != ZipArchiveEntry.DEFLATED) { // safety: zip-known-method
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
        return Collections.unmodifiableList(duplicates);
    }

    /** The top folder, which torch.save names after the file. */
    public String archiveName() {
        return archiveName;
    }

    public Optional<Entry> entry(String name) {
        return Optional.ofNullable(entries.get(name));
    }

    /** Record names in central-directory order. */
    public List<String> names() {
        return Collections.unmodifiableList(new ArrayList<>(entries.keySet()));
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
            try (InputStream in = zip.getInputStream(raw.get(e.name()))) {
                return requireExpansionWithinLimit(e, in, max);
            }
        } catch (CheckpointException ex) {
            throw ex;
        } catch (IOException | RuntimeException | LinkageError ex) {
            throw CheckpointException.at(Kind.MALFORMED, e.name(), -1, "cannot read record: " + ex)
                    .withCause(ex);
        }
    }

    /** Closes Commons Compress's reader and its borrowed view; the {@link MappedFile} stays open. */
    @Override
    public void close() throws IOException {
        zip.close();
    }
}
