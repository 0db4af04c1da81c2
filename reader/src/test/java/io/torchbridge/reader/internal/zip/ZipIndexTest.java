package io.torchbridge.reader.internal.zip;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.reader.internal.data.MappedFile;
import io.torchbridge.testing.TestZip;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The zip index read by {@link ZipContainer}: end records, zip64, central directory, local
 * headers. Archives are made here byte by byte after APPNOTE.TXT (4.3.7 local header, 4.3.12
 * central header, 4.3.14-16 end records, 4.5.3 zip64 field), so that a test can set any field;
 * each invariant of the index has a test that a crafted archive reaches it, with its kind.
 */
class ZipIndexTest {
    @TempDir
    Path dir;

    private static final long MAX32 = 0xFFFFFFFFL;

    /** A record: stored {@code data} named {@code archive/name}, and which central fields say 0xFFFFFFFF (zip64). */
    private record Rec(String name, byte[] data, boolean bigSize, boolean bigCsize, boolean bigOffset) {
        Rec(String name, byte[] data) {
            this(name, data, false, false, false);
        }

        byte[] fullName() {
            return ("archive/" + name).getBytes(StandardCharsets.UTF_8);
        }
    }

    /** A handmade archive and where its parts lie, for a test to patch through {@link #b}. */
    private static final class Handmade {
        final ByteBuffer b;
        final int[] local;
        final int[] data;
        final int[] central; // by record index, whatever the central order
        int cd;
        int zip64End;
        int end;

        Handmade(int n, int capacity) {
            b = ByteBuffer.allocate(capacity).order(ByteOrder.LITTLE_ENDIAN);
            local = new int[n];
            data = new int[n];
            central = new int[n];
        }

        /** The archive's bytes, as far as they were written. */
        byte[] bytes() {
            return Arrays.copyOf(b.array(), end + 22);
        }

        /** Where record {@code i}'s central extra field starts. */
        int extra(int i, Rec r) {
            return central[i] + 46 + r.fullName().length;
        }
    }

    private static Handmade build(Rec... recs) {
        int[] order = new int[recs.length];
        Arrays.setAll(order, i -> i);
        return build(order, recs);
    }

    /**
     * Local headers (no extra field) and data in the order given, then the central directory
     * with the records in {@code centralOrder}, the zip64 end record and locator (as torch.save
     * always writes them), and the classic end record.
     */
    private static Handmade build(int[] centralOrder, Rec... recs) {
        Handmade h = new Handmade(recs.length, 1 << 20);
        ByteBuffer b = h.b;
        for (int i = 0; i < recs.length; i++) {
            Rec r = recs[i];
            h.local[i] = b.position();
            b.putInt(0x04034b50).putShort((short) 20).putShort((short) 0).putShort((short) 0).putInt(0)
                    .putInt((int) crc(r.data())).putInt(r.data().length).putInt(r.data().length)
                    .putShort((short) r.fullName().length).putShort((short) 0).put(r.fullName());
            h.data[i] = b.position();
            b.put(r.data());
        }
        h.cd = b.position();
        for (int i : centralOrder) {
            Rec r = recs[i];
            h.central[i] = b.position();
            int extra = 8 * ((r.bigSize() ? 1 : 0) + (r.bigCsize() ? 1 : 0) + (r.bigOffset() ? 1 : 0));
            b.putInt(0x02014b50).putShort((short) 45).putShort((short) 45).putShort((short) 0).putShort((short) 0)
                    .putInt(0).putInt((int) crc(r.data()))
                    .putInt(r.bigCsize() ? (int) MAX32 : r.data().length)
                    .putInt(r.bigSize() ? (int) MAX32 : r.data().length)
                    .putShort((short) r.fullName().length).putShort((short) (extra == 0 ? 0 : extra + 4))
                    .putShort((short) 0).putShort((short) 0).putShort((short) 0).putInt(0)
                    .putInt(r.bigOffset() ? (int) MAX32 : h.local[i]).put(r.fullName());
            if (extra > 0) {
                // APPNOTE 4.5.3: only the saturated values, in this order.
                b.putShort((short) 1).putShort((short) extra);
                if (r.bigSize()) {
                    b.putLong(r.data().length);
                }
                if (r.bigCsize()) {
                    b.putLong(r.data().length);
                }
                if (r.bigOffset()) {
                    b.putLong(h.local[i]);
                }
            }
        }
        int cdSize = b.position() - h.cd;
        h.zip64End = b.position();
        b.putInt(0x06064b50).putLong(44).putShort((short) 45).putShort((short) 45).putInt(0).putInt(0)
                .putLong(recs.length).putLong(recs.length).putLong(cdSize).putLong(h.cd);
        b.putInt(0x07064b50).putInt(0).putLong(h.zip64End).putInt(1);
        h.end = b.position();
        b.putInt(0x06054b50).putShort((short) 0).putShort((short) 0).putShort((short) recs.length)
                .putShort((short) recs.length).putInt(cdSize).putInt(h.cd).putShort((short) 0);
        return h;
    }

    private static long crc(byte[] data) {
        CRC32 c = new CRC32();
        c.update(data);
        return c.getValue();
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    /** Three small records, torch.save's names. */
    private static Handmade three() {
        return build(new Rec("data.pkl", bytes("pickle")), new Rec("data/0", bytes("01234567")),
                new Rec("version", bytes("3\n")));
    }

    @FunctionalInterface
    private interface Use<T> {
        T apply(MappedFile file, ZipContainer zip) throws IOException;
    }

    private <T> T index(byte[] z, boolean keepFirstDuplicate, Use<T> use) throws IOException {
        Path f = Files.write(dir.resolve("z" + System.nanoTime() + ".pt"), z);
        try (MappedFile file = MappedFile.open(f); ZipContainer zip = ZipContainer.open(file, keepFirstDuplicate)) {
            return use.apply(file, zip);
        }
    }

    private CheckpointException refuse(byte[] z) {
        return assertThrows(CheckpointException.class, () -> index(z, false, (file, zip) -> null));
    }

    private static void assertRefusal(CheckpointException e, Kind kind, String record, String message) {
        assertEquals(kind, e.kind(), e.toString());
        if (record != null) {
            assertEquals(record, e.record().orElseThrow(), e.toString());
        }
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }

    @Test
    void eachRecordIsWhereItsLocalHeaderSaysWithItsSizesAndCrc() throws IOException {
        Handmade h = three();
        index(h.bytes(), false, (file, zip) -> {
            assertEquals("archive", zip.archiveName());
            assertEquals(List.of("data.pkl", "data/0", "version"), zip.names());
            ZipContainer.Entry e = zip.entry("data/0").orElseThrow();
            assertEquals(new ZipContainer.Entry("data/0", h.data[1], 8, 8, 0, crc(bytes("01234567"))), e);
            assertTrue(e.stored());
            assertArrayEquals(bytes("01234567"), zip.read(file, e, 100));
            assertArrayEquals(bytes("3\n"), zip.read(file, zip.entry("version").orElseThrow(), 100));
            return null;
        });
    }

    @Test
    void theZip64FieldHoldsOnlyTheSaturatedValuesInTheirOrder() throws IOException {
        // APPNOTE 4.5.3: uncompressed size, compressed size, local header offset, each present
        // only where its 32-bit field is 0xFFFFFFFF.
        Handmade h = build(new Rec("data.pkl", bytes("pickle"), true, false, true),
                new Rec("data/0", bytes("01234567"), false, true, false),
                new Rec("data/1", bytes("abc"), false, false, true),
                new Rec("version", bytes("3\n"), true, true, true));
        index(h.bytes(), false, (file, zip) -> {
            assertArrayEquals(bytes("pickle"), zip.read(file, zip.entry("data.pkl").orElseThrow(), 100));
            assertArrayEquals(bytes("01234567"), zip.read(file, zip.entry("data/0").orElseThrow(), 100));
            assertArrayEquals(bytes("abc"), zip.read(file, zip.entry("data/1").orElseThrow(), 100));
            assertArrayEquals(bytes("3\n"), zip.read(file, zip.entry("version").orElseThrow(), 100));
            assertEquals(h.data[3], zip.entry("version").orElseThrow().dataOffset());
            return null;
        });
    }

    @Test
    void aCentralDirectoryOutOfFileOrderReadsInItsOwnOrder() throws IOException {
        Handmade h = build(new int[] {2, 0, 1}, new Rec("data.pkl", bytes("pickle")),
                new Rec("data/0", bytes("01234567")), new Rec("version", bytes("3\n")));
        index(h.bytes(), false, (file, zip) -> {
            assertEquals("archive", zip.archiveName());
            assertEquals(List.of("version", "data.pkl", "data/0"), zip.names());
            assertArrayEquals(bytes("01234567"), zip.read(file, zip.entry("data/0").orElseThrow(), 100));
            assertArrayEquals(bytes("pickle"), zip.read(file, zip.entry("data.pkl").orElseThrow(), 100));
            return null;
        });
    }

    @Test
    void thousandsOfRecordsNearAndFarReadThroughTheWindow() throws IOException {
        // Local headers close together (read many per window, some across a window's end), one
        // record of 200,000 bytes between them (the next header lies past the window), and the
        // 64-byte alignment padding torch.save puts in each local extra field (TestZip writes it).
        List<byte[]> data = new ArrayList<>();
        byte[] z = TestZip.bytes("archive", zip -> {
            for (int i = 0; i < 3000; i++) {
                byte[] d = new byte[i == 1500 ? 200_000 : i % 97];
                Arrays.fill(d, (byte) i);
                data.add(d);
                zip.add("data/" + i, d);
            }
        });
        index(z, false, (file, zip) -> {
            assertEquals(3000, zip.names().size());
            for (int i = 0; i < 3000; i++) {
                ZipContainer.Entry e = zip.entry("data/" + i).orElseThrow();
                assertEquals(0, e.dataOffset() % 64, e.name());
                assertArrayEquals(data.get(i), zip.read(file, e, 1 << 20), e.name());
            }
            return null;
        });
    }

    @Test
    void numberedStorageRecordsAndOtherNamesAreDistinctRecords() throws IOException {
        // data/N records are kept by number, the rest by name: spellings that are not torch's
        // numbering (a leading zero, a sign, a number past the record count) stay separate records.
        String[] names = {"data.pkl", "data/0", "data/00", "data/+1", "data/1", "data/99", "data/", "data/2x"};
        Handmade h = build(Arrays.stream(names).map(n -> new Rec(n, bytes("bytes of " + n))).toArray(Rec[]::new));
        index(h.bytes(), false, (file, zip) -> {
            assertEquals(List.of(names), zip.names());
            for (String n : names) {
                assertArrayEquals(bytes("bytes of " + n), zip.read(file, zip.entry(n).orElseThrow(), 100), n);
                if (n.startsWith("data/")) {
                    ZipContainer.Entry byKey = zip.storageRecord(n.substring(5)).orElseThrow();
                    assertEquals(n, byKey.name());
                }
            }
            assertTrue(zip.entry("data/2").isEmpty());
            assertTrue(zip.storageRecord("2").isEmpty());
            assertTrue(zip.storageRecord("01").isEmpty());
            return null;
        });
    }

    @Test
    void aDuplicateIsRefusedOrItsFirstEntryKept() throws IOException {
        // What a scan asks for: the first entry counts, as in PyTorch's reader; the name is listed.
        Handmade h = build(new Rec("data.pkl", bytes("pickle")), new Rec("data/0", bytes("first")),
                new Rec("data/0", bytes("second")));
        index(h.bytes(), true, (file, zip) -> {
            assertEquals(List.of("data/0"), zip.duplicates());
            assertEquals(List.of("data.pkl", "data/0"), zip.names());
            assertArrayEquals(bytes("first"), zip.read(file, zip.entry("data/0").orElseThrow(), 100));
            return null;
        });
        assertRefusal(refuse(h.bytes()), Kind.MALFORMED, "data/0", "appears twice");
    }

    // The invariants, in the order the index meets them.

    @Test
    void requireEndRecord() {
        Handmade h = three();
        byte[] cut = Arrays.copyOf(h.bytes(), h.end); // the classic end record cut off
        assertRefusal(refuse(cut), Kind.TRUNCATED, null, "end record is missing, so the file was cut off");
    }

    @Test
    void requireZip64EndRecord() {
        Handmade h = three();
        h.b.putInt(h.zip64End, 0x06064b51);
        assertRefusal(refuse(h.bytes()), Kind.MALFORMED, null, "where there is no zip64 end record");
        h = three();
        h.b.putLong(h.end - 12, h.end); // the locator points at itself: no room for the 56-byte record
        assertRefusal(refuse(h.bytes()), Kind.MALFORMED, null, "where there is no zip64 end record");
    }

    @Test
    void requireCentralDirectoryInFile() {
        Handmade h = three();
        h.b.putLong(h.zip64End + 48, h.end + 100); // the directory's offset, past the file
        assertRefusal(refuse(h.bytes()), Kind.MALFORMED, null, "not inside the file before the end records");
        h = three();
        h.b.putLong(h.zip64End + 40, Long.MIN_VALUE + 1); // its size, 2^63 + 1 as unsigned
        assertRefusal(refuse(h.bytes()), Kind.MALFORMED, null, "not inside the file before the end records");
    }

    @Test
    void requireCountFitsCentralDirectory() {
        // 2^40 records cannot be in a directory of a few hundred bytes; nothing is allocated for them.
        Handmade h = three();
        h.b.putLong(h.zip64End + 32, 1L << 40);
        assertRefusal(refuse(h.bytes()), Kind.MALFORMED, null, "declares 1099511627776 records, more than its");
    }

    @Test
    void requireCentralHeader() {
        Handmade h = three();
        h.b.putInt(h.central[1], 0x04034b50); // a local header's signature where the second entry is
        assertRefusal(refuse(h.bytes()), Kind.MALFORMED, null, "no central directory entry where the end record");
    }

    @Test
    void requireCentralEntryInside() {
        Handmade h = three();
        h.b.putShort(h.central[2] + 32, (short) 1); // the last entry's comment: one byte past the directory
        assertRefusal(refuse(h.bytes()), Kind.MALFORMED, null, "runs past the end of the central directory");
    }

    @Test
    void requireNotEncrypted() {
        Handmade h = three();
        h.b.putShort(h.central[1] + 8, (short) 1); // general purpose flag bit 0
        assertRefusal(refuse(h.bytes()), Kind.UNSUPPORTED, "data/0", "record is encrypted");
    }

    @Test
    void requireExtraFieldInside() {
        Rec big = new Rec("data/0", bytes("01234567"), false, false, true);
        Handmade h = build(new Rec("data.pkl", bytes("pickle")), big);
        h.b.putShort(h.extra(1, big) + 2, (short) 9); // the zip64 field claims one byte more than the block
        assertRefusal(refuse(h.bytes()), Kind.MALFORMED, "data/0", "extra field is cut short");
    }

    @Test
    void requireZip64Value() {
        Rec big = new Rec("data/0", bytes("01234567"), false, false, true);
        Handmade h = build(new Rec("data.pkl", bytes("pickle")), big);
        h.b.putShort(h.extra(1, big), (short) 0x7075); // another field's id: no zip64 field
        assertRefusal(refuse(h.bytes()), Kind.MALFORMED, "data/0",
                "local header offset is 0xFFFFFFFF but its zip64 extra field does not hold it");
        Rec two = new Rec("data/0", bytes("01234567"), true, false, true);
        h = build(new Rec("data.pkl", bytes("pickle")), two);
        h.b.putShort(h.extra(1, two) + 2, (short) 8); // holds the size, not the offset after it
        assertRefusal(refuse(h.bytes()), Kind.MALFORMED, "data/0", "local header offset is 0xFFFFFFFF");
    }

    @Test
    void requireKnownExtent() {
        // A zip64 size of 2^64 - 1: an unsigned value no file can hold, negative as a long.
        Rec big = new Rec("data/0", bytes("01234567"), true, false, false);
        Handmade h = build(new Rec("data.pkl", bytes("pickle")), big);
        h.b.putLong(h.extra(1, big) + 4, -1);
        assertRefusal(refuse(h.bytes()), Kind.MALFORMED, "data/0", "no valid data offset or size");
    }

    @Test
    void requireRecordsInAZip64Archive() {
        Handmade h = build();
        assertRefusal(refuse(h.bytes()), Kind.MALFORMED, null, "the zip archive has no records");
    }

    @Test
    void requireEntriesFillCentralDirectory() {
        // Both end records declare one record fewer than the directory holds: a reader that
        // walks the directory would see a record that one counting entries does not.
        Handmade h = three();
        h.b.putLong(h.zip64End + 24, 2).putLong(h.zip64End + 32, 2);
        h.b.putShort(h.end + 8, (short) 2).putShort(h.end + 10, (short) 2);
        assertRefusal(refuse(h.bytes()), Kind.MALFORMED, null, "bytes after its 2 declared records");
    }

    @Test
    void requireLocalHeaderBeforeCentralDirectory() {
        Handmade h = three();
        h.b.putInt(h.central[2] + 42, h.cd - 20); // version's header would run into the directory
        assertRefusal(refuse(h.bytes()), Kind.MALFORMED, "version", "local header at " + (h.cd - 20)
                + " overlaps the central directory");
    }

    @Test
    void requireLocalHeader() {
        Handmade h = three();
        h.b.putInt(h.central[1] + 42, h.data[1]); // data/0's entry points at its data
        assertRefusal(refuse(h.bytes()), Kind.MALFORMED, "data/0", "no local header where the central directory");
    }

    @Test
    void requireLocalNameMatches() {
        Handmade h = three();
        h.b.put(h.local[1] + 30 + "archive/data/".length(), (byte) '1'); // the local header says data/1
        assertRefusal(refuse(h.bytes()), Kind.MALFORMED, "data/0", "local header names another record");
        h = three();
        h.b.putShort(h.local[1] + 26, (short) 13); // the local name is "archive/data/", its prefix
        assertRefusal(refuse(h.bytes()), Kind.MALFORMED, "data/0", "local header names another record");
    }

    @Test
    void requireBeforeCentralDirectory() {
        // version's entry claims 10 bytes, 8 more than it has: they are the directory's first bytes.
        Handmade h = three();
        h.b.putInt(h.central[2] + 20, 10).putInt(h.central[2] + 24, 10);
        assertRefusal(refuse(h.bytes()), Kind.MALFORMED, "version", "record data overlaps the central directory");
    }
}
