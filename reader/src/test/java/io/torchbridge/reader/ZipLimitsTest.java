package io.torchbridge.reader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.testing.P;
import io.torchbridge.testing.TestZip;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The archive-level checks: each crafted archive is refused with its kind, before any data is used. */
class ZipLimitsTest {
    @TempDir
    Path dir;

    private static final byte[] PKL = P.proto(2).tensorV2("FloatStorage", "0", 2, 0, new long[] {2}, new long[] {1})
            .stop().bytes();

    /** One crafted change to {@link #valid}'s archive, made while it is written. */
    private interface Patch {
        void apply(TestZip zip) throws IOException;
    }

    private static byte[] valid(boolean deflatePickle, byte[] pickle) throws IOException {
        return valid(deflatePickle, pickle, zip -> { });
    }

    /**
     * A valid archive: archive/data.pkl, archive/data/0 (8 bytes), archive/data/1, archive/version,
     * then {@code patch}, which may add records or make the central directory lie.
     */
    private static byte[] valid(boolean deflatePickle, byte[] pickle, Patch patch) throws IOException {
        return TestZip.bytes("archive", zip -> {
            if (deflatePickle) {
                zip.addDeflated("data.pkl", pickle);
            } else {
                zip.add("data.pkl", pickle);
            }
            zip.add("data/0", new byte[8]);
            zip.add("data/1", new byte[8]);
            zip.add("version", "3\n".getBytes(StandardCharsets.US_ASCII));
            patch.apply(zip);
        });
    }

    /**
     * A STORED record through java.util.zip, whose DEFLATED records put their sizes in a data
     * descriptor after the data, so that no header but the central one declares the inflated
     * size (TestZip writes sizes in the headers); the reader inflates to the deflate stream's
     * end whatever any header declares.
     */
    private static void put(ZipOutputStream zip, String name, byte[] data, boolean deflate) throws Exception {
        ZipEntry e = new ZipEntry(name);
        if (!deflate) {
            e.setMethod(ZipEntry.STORED);
            e.setSize(data.length);
            CRC32 crc = new CRC32();
            crc.update(data);
            e.setCrc(crc.getValue());
        }
        zip.putNextEntry(e);
        zip.write(data);
        zip.closeEntry();
    }

    /** Offsets of the central-directory entries, in order (the classic end record must not be saturated). */
    private static int[] central(byte[] z) {
        ByteBuffer b = ByteBuffer.wrap(z).order(ByteOrder.LITTLE_ENDIAN);
        int eocd = z.length - 22;
        int n = b.getShort(eocd + 10);
        int at = b.getInt(eocd + 16);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = at;
            at += 46 + b.getShort(at + 28) + b.getShort(at + 30) + b.getShort(at + 32);
        }
        return out;
    }

    private CheckpointException refuse(byte[] z) throws Exception {
        return refuse(z, ReadOptions.defaults());
    }

    private CheckpointException refuse(byte[] z, ReadOptions o) throws Exception {
        Path f = Files.write(dir.resolve("z" + System.nanoTime() + ".pt"), z);
        return assertThrows(CheckpointException.class, () -> Checkpoint.open(f, o).close());
    }

    @Test
    void theUnpatchedArchiveReads() throws Exception {
        Path f = Files.write(dir.resolve("ok.pt"), valid(false, PKL));
        try (Checkpoint c = Checkpoint.open(f)) {
            assertEquals(2, c.tensor("").numel());
        }
    }

    @Test
    void overlappingRecordsAreRefused() throws Exception {
        // requireNoOverlap: data/0's central entry claims 9 bytes, one more than it has, so its
        // data covers the first byte of data/1's local header.
        CheckpointException e = refuse(valid(false, PKL, zip -> zip.declareInCentral("data/0", 9, 9)));
        assertEquals(Kind.MALFORMED, e.kind());
        assertTrue(e.getMessage().contains("two records overlap at byte"), e.getMessage());
    }

    @Test
    void aCentralEntryPointingAtAnotherRecordsHeaderIsRefused() throws Exception {
        // requireLocalNameMatches: data/1's central entry points at data/0's local header, so
        // two records would share one range of bytes; the header there names data/0.
        CheckpointException e = refuse(valid(false, PKL, zip -> zip.overlap("data/1", "data/0")));
        assertEquals(Kind.MALFORMED, e.kind());
        assertEquals("data/1", e.record().orElseThrow());
        assertTrue(e.getMessage().contains("local header names another record"), e.getMessage());
    }

    @Test
    void duplicateNamesAreRefused() throws Exception {
        // a second archive/data/0 after the valid archive's records
        CheckpointException e = refuse(valid(false, PKL, zip -> zip.add("data/0", new byte[8])));
        assertEquals(Kind.MALFORMED, e.kind());
        assertTrue(e.getMessage().contains("twice"), e.getMessage());
    }

    @Test
    void aRecordOutsideTheArchiveFolderIsRefused() throws Exception {
        CheckpointException e = refuse(valid(false, PKL,
                zip -> zip.addOutside("archivX/version", "3\n".getBytes(StandardCharsets.US_ASCII))));
        assertEquals(Kind.MALFORMED, e.kind());
        assertEquals("archivX/version", e.record().orElseThrow());
    }

    @Test
    void aRecordReachingPastTheFileIsRefused() throws Exception {
        // data/0's central entry claims 1 GiB
        CheckpointException e = refuse(valid(false, PKL, zip -> zip.declareInCentral("data/0", 1 << 30, 1 << 30)));
        assertEquals(Kind.TRUNCATED, e.kind());
        assertEquals("data/0", e.record().orElseThrow());
    }

    @Test
    void aCompressedPickleIsCappedWhileItExpands() throws Exception {
        // 64 MiB of zeros deflate to a few KiB: with a 1 MiB limit reading stops at 1 MiB + 1 byte.
        byte[] bomb = new byte[64 << 20];
        byte[] z = valid(true, bomb);
        assertTrue(z.length < 200_000, "a small file: " + z.length);
        CheckpointException e = refuse(z, ReadOptions.builder().maxPickleBytes(1 << 20).build());
        assertEquals(Kind.LIMIT_EXCEEDED, e.kind());
        assertTrue(e.getMessage().contains("maxPickleBytes") || e.getMessage().contains("expands"), e.getMessage());
    }

    @Test
    void aCompressedPickleWithinTheLimitReads() throws Exception {
        Path f = Files.write(dir.resolve("deflated.pt"), valid(true, PKL));
        try (Checkpoint c = Checkpoint.open(f)) {
            assertEquals(2, c.tensor("").numel());
        }
    }

    // One test per invariant of ZipContainer met while reading a record; those of the index itself
    // are tested on handmade archives in internal.zip.ZipIndexTest.

    @Test
    void aFirstRecordOutsideAnyFolderIsRefused() throws Exception {
        // requireArchiveFolder: torch.save puts every record under one folder.
        byte[] z = valid(false, PKL);
        String s = new String(z, StandardCharsets.ISO_8859_1).replace("archive/data.pkl", "archive_data.pkl");
        CheckpointException e = refuse(s.getBytes(StandardCharsets.ISO_8859_1));
        assertEquals(Kind.MALFORMED, e.kind());
        assertEquals("archive_data.pkl", e.record().orElseThrow());
        assertTrue(e.getMessage().contains("not inside an archive folder"), e.getMessage());
    }

    @Test
    void aStoredRecordWhoseTwoSizesDifferIsRefused() throws Exception {
        // requireStoredSizesAgree: data.pkl's central entry claims one more byte than it stores.
        byte[] z = valid(false, PKL);
        ByteBuffer.wrap(z).order(ByteOrder.LITTLE_ENDIAN).putInt(central(z)[0] + 24, PKL.length + 1);
        CheckpointException e = refuse(z);
        assertEquals(Kind.MALFORMED, e.kind());
        assertEquals("data.pkl", e.record().orElseThrow());
        assertTrue(e.getMessage().contains("stored record's sizes differ"), e.getMessage());
    }

    @Test
    void aRecordCompressedWithAnotherMethodIsUnsupported() throws Exception {
        // requireKnownMethod: method 12 (bzip2), which Commons Compress could decode.
        byte[] z = valid(false, PKL);
        ByteBuffer b = ByteBuffer.wrap(z).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort(central(z)[0] + 10, (short) 12);
        b.putShort(8, (short) 12); // the local header agrees
        CheckpointException e = refuse(z);
        assertEquals(Kind.UNSUPPORTED, e.kind());
        assertEquals("data.pkl", e.record().orElseThrow());
        assertTrue(e.getMessage().contains("compression method 12"), e.getMessage());
    }

    @Test
    void aRecordDeclaredOverTheLimitIsRefusedBeforeItIsRead() throws Exception {
        // requireDeclaredWithinLimit: a stored 2 MiB data.pkl against a 1 MiB limit.
        byte[] z = valid(false, new byte[2 << 20]);
        CheckpointException e = refuse(z, ReadOptions.builder().maxPickleBytes(1 << 20).build());
        assertEquals(Kind.LIMIT_EXCEEDED, e.kind());
        assertEquals("data.pkl", e.record().orElseThrow());
        assertTrue(e.getMessage().contains("record is 2097152 bytes, over the limit of 1048576 "
                + "(ReadOptions.maxPickleBytes)"), e.getMessage());
    }

    @Test
    void aDeflatedRecordThatUnderstatesItsSizeIsCappedWhileItExpands() throws Exception {
        // requireExpansionWithinLimit: 320 MiB of zeros deflate to a few hundred KiB, and every
        // header says the record inflates to 100 bytes, well under the 1 MiB limit: only the cap
        // on the inflated stream itself can refuse it. 320 MiB is over this module's 256 MiB test
        // heap, so a reader that inflated everything before checking would fail here too.
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
            zip.putNextEntry(new ZipEntry("archive/data.pkl"));
            byte[] zeros = new byte[1 << 20];
            for (int i = 0; i < 320; i++) {
                zip.write(zeros);
            }
            zip.closeEntry();
            put(zip, "archive/data/0", new byte[8], false);
            put(zip, "archive/version", "3\n".getBytes(StandardCharsets.US_ASCII), false);
        }
        byte[] z = bytes.toByteArray();
        ByteBuffer b = ByteBuffer.wrap(z).order(ByteOrder.LITTLE_ENDIAN);
        int cd = central(z)[0];
        long compressed = Integer.toUnsignedLong(b.getInt(cd + 20));
        b.putInt(cd + 24, 100);
        // java.util.zip writes a deflated entry's sizes in a data descriptor after its data
        // (local header flag bit 3, sizes 0 there): make that one say 100 too.
        int data = 30 + b.getShort(26) + b.getShort(28);
        int descriptor = Math.toIntExact(data + compressed);
        assertEquals(0x08074b50, b.getInt(descriptor), "data descriptor signature");
        b.putInt(descriptor + 12, 100);
        assertTrue(z.length < 1_000_000, "a small file: " + z.length);

        CheckpointException e = refuse(z, ReadOptions.builder().maxPickleBytes(1 << 20).build());
        assertEquals(Kind.LIMIT_EXCEEDED, e.kind());
        assertEquals("data.pkl", e.record().orElseThrow());
        assertTrue(e.getMessage().contains("record expands past the limit of 1048576 bytes"), e.getMessage());
    }
}
