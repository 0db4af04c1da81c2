package io.torchbridge.reader.internal.zip;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.reader.internal.data.MappedFile;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Collections;
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
 */
public final class ZipContainer implements AutoCloseable {
    /** One record: its name below the archive folder and where its bytes are. */
    public record Entry(String name, long dataOffset, long size, long compressedSize, int method) {
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
     */
    public static ZipContainer open(MappedFile file, boolean keepFirstDuplicate) throws CheckpointException {
        ZipFile zip;
        try {
            zip = ZipFile.builder().setPath(file.path()).get();
        } catch (IOException | RuntimeException e) {
            if (!hasEndRecord(file)) {
                throw CheckpointException.of(Kind.TRUNCATED, "the zip's end record is missing, so the file "
                        + "was cut off (" + file.size() + " bytes; an incomplete download or copy? compare its "
                        + "size with the original)").withCause(e);
            }
            throw CheckpointException.of(Kind.MALFORMED, "not a readable zip archive: " + e.getMessage()
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
     * Where the central directory starts, from the end records (zip64 where the classic one is
     * saturated). Commons Compress has read them already but does not say.
     */
    private static long centralDirectoryOffset(MappedFile file) throws CheckpointException {
        try {
            int n = (int) Math.min(file.size(), 65_557);
            long base = file.size() - n;
            java.nio.ByteBuffer tail = java.nio.ByteBuffer.wrap(file.read(base, n)).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            for (int i = n - 22; i >= 0; i--) {
                if (tail.getInt(i) != 0x06054b50) {
                    continue;
                }
                long cd = tail.getInt(i + 16) & 0xFFFFFFFFL;
                if (cd == 0xFFFFFFFFL && i >= 20 && tail.getInt(i - 20) == 0x07064b50) {
                    long z64 = tail.getLong(i - 20 + 8);
                    if (z64 < 0 || z64 + 56 > file.size()) {
                        break;
                    }
                    java.nio.ByteBuffer rec = java.nio.ByteBuffer.wrap(file.read(z64, 56)).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                    if (rec.getInt(0) == 0x06064b50) {
                        cd = rec.getLong(48);
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
            int n = (int) Math.min(file.size(), 65_557);
            byte[] tail = file.read(file.size() - n, n);
            for (int i = n - 22; i >= 0; i--) {
                if (tail[i] == 'P' && tail[i + 1] == 'K' && tail[i + 2] == 5 && tail[i + 3] == 6) {
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
        List<long[]> spans = new ArrayList<>();
        List<String> duplicates = new ArrayList<>();
        String prefix = null;
        Enumeration<ZipArchiveEntry> all = zip.getEntries();
        while (all.hasMoreElements()) {
            ZipArchiveEntry e = all.nextElement();
            String full = e.getName();
            // torch/serialization.py, _load: the archive folder is whatever precedes the first '/'
            // of the first record; its name is never checked.
            if (prefix == null) {
                int slash = full.indexOf('/');
                if (slash <= 0) {
                    throw CheckpointException.at(Kind.MALFORMED, full, -1,
                            "the first record is not inside an archive folder, as torch.save writes it");
                }
                prefix = full.substring(0, slash + 1);
            }
            if (!full.startsWith(prefix)) {
                throw CheckpointException.at(Kind.MALFORMED, full, -1,
                        "record lies outside the archive folder '" + prefix + "'");
            }
            String name = full.substring(prefix.length());
            long offset = e.getDataOffset();
            long csize = e.getCompressedSize();
            if (offset < 0 || csize < 0 || e.getSize() < 0) {
                throw CheckpointException.at(Kind.MALFORMED, name, -1, "record has no valid data offset or size");
            }
            if (offset > fileSize || csize > fileSize - offset) {
                throw CheckpointException.at(Kind.TRUNCATED, name, -1, "record data [" + offset + ", "
                        + (offset + csize) + ") extends past the end of the " + fileSize
                        + "-byte file (an incomplete download or copy?)");
            }
            if (offset + csize > cdOffset || e.getLocalHeaderOffset() >= cdOffset) {
                throw CheckpointException.at(Kind.MALFORMED, name, -1, "record data overlaps the central "
                        + "directory at " + cdOffset + " (a crafted or damaged archive)");
            }
            spans.add(new long[] {e.getLocalHeaderOffset(), offset + csize});
            if (entries.putIfAbsent(name, new Entry(name, offset, e.getSize(), csize, e.getMethod())) != null) {
                if (!keepFirstDuplicate) {
                    throw CheckpointException.at(Kind.MALFORMED, name, -1, "record appears twice in the archive "
                            + "(readers may disagree on which one counts: a crafted archive)");
                }
                duplicates.add(name);
                continue;
            }
            raw.put(name, e);
        }
        if (prefix == null) {
            throw CheckpointException.of(Kind.MALFORMED, "the zip archive has no records");
        }
        // Records may not share bytes: overlapping entries are how zip bombs and parser-confusion
        // archives are built, and torch.save never writes them.
        spans.sort((a, b) -> Long.compare(a[0], b[0]));
        for (int i = 1; i < spans.size(); i++) {
            if (spans.get(i)[0] < spans.get(i - 1)[1]) {
                throw CheckpointException.of(Kind.MALFORMED, "two records overlap at byte " + spans.get(i)[0]
                        + " (a crafted or damaged archive)");
            }
        }
        return new ZipContainer(zip, prefix.substring(0, prefix.length() - 1), entries, raw, duplicates);
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
        if (e.size() > max) {
            throw CheckpointException.at(Kind.LIMIT_EXCEEDED, e.name(), -1, "record is " + e.size()
                    + " bytes, over the limit of " + max + " (ReadOptions.maxPickleBytes)");
        }
        try {
            if (e.stored()) {
                if (e.size() != e.compressedSize()) {
                    throw CheckpointException.at(Kind.MALFORMED, e.name(), -1, "stored record's sizes differ");
                }
                return file.read(e.dataOffset(), (int) e.size());
            }
            if (e.method() != ZipArchiveEntry.DEFLATED) {
                // torch writes STORED records and TorchScript DEFLATED ones; any other method
                // (bzip2, zstd, ...) needs codecs a checkpoint never uses.
                throw CheckpointException.at(Kind.UNSUPPORTED, e.name(), -1, "record uses zip compression method "
                        + e.method() + "; PyTorch writes records stored or deflated (re-save the file with torch.save)");
            }
            try (InputStream in = zip.getInputStream(raw.get(e.name()))) {
                // Read at most max + 1 bytes whatever the header claims: a zip bomb stops here.
                byte[] b = in.readNBytes((int) Math.min(max + 1, Integer.MAX_VALUE - 8));
                if (b.length > max) {
                    throw CheckpointException.at(Kind.LIMIT_EXCEEDED, e.name(), -1,
                            "record expands past the limit of " + max + " bytes");
                }
                return b;
            }
        } catch (CheckpointException ex) {
            throw ex;
        } catch (IOException | RuntimeException | LinkageError ex) {
            throw CheckpointException.at(Kind.MALFORMED, e.name(), -1, "cannot read record: " + ex)
                    .withCause(ex);
        }
    }

    @Override
    public void close() throws IOException {
        zip.close();
    }
}
