package io.torchbridge.reader.internal.zip;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The zip container's one open (index and data from the same channel), and the boundaries of its
 * named invariants on values (sizes that wrap around, records that only touch), which a crafted
 * file reaches only one at a time: crafted archives reach each invariant in ZipIndexTest,
 * ZipLimitsTest, ErrorKindTest and FuzzFindingsTest.
 */
class ZipInvariantsTest {
    @TempDir
    Path dir;

    /** A zip under {@code folder}: a deflated data.pkl holding {@code pickle}, a stored data/0 holding {@code data}. */
    private static byte[] archive(String folder, byte[] pickle, byte[] data) throws IOException {
        return TestZip.bytes(folder, zip -> {
            zip.addDeflated("data.pkl", pickle);
            zip.add("data/0", data);
        });
    }

    private static byte[] filled(int n, int value) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) value);
        return b;
    }

    @Test
    void theIndexComesFromTheFileTheDataIsMappedFromEvenIfThePathIsReplaced() throws IOException {
        Path path = dir.resolve("model.pt");
        byte[] pickle = "the original pickle".getBytes(StandardCharsets.US_ASCII);
        byte[] data = filled(64, 1);
        Files.write(path, archive("original", pickle, data));
        try (MappedFile file = MappedFile.open(path)) {
            // Between opening the file and reading its index, a writer replaces the path by an
            // atomic rename (as torch.save's callers and our own writer do) with a file whose
            // records lie elsewhere: an index read from the path would point into the wrong file.
            Path next = Files.write(dir.resolve("model.pt.tmp"),
                    archive("replacement", filled(5000, 'x'), filled(4096, 2)));
            Files.move(next, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            assertEquals("replacement/", new String(Files.readAllBytes(path), 30, 12, StandardCharsets.US_ASCII));

            try (ZipContainer zip = ZipContainer.open(file)) {
                assertEquals("original", zip.archiveName());
                assertEquals(List.of("data.pkl", "data/0"), zip.names());
                ZipContainer.Entry pkl = zip.entry("data.pkl").orElseThrow();
                assertFalse(pkl.stored());
                assertArrayEquals(pickle, zip.read(file, pkl, 1 << 20)); // inflated through the same channel
                ZipContainer.Entry rec = zip.entry("data/0").orElseThrow();
                assertEquals(data.length, rec.size());
                ByteBuffer view = file.region(rec.dataOffset(), rec.size(), ByteOrder.LITTLE_ENDIAN).slice(0, data.length);
                byte[] mapped = new byte[data.length];
                view.get(mapped);
                assertArrayEquals(data, mapped);
            }
        }
    }

    @Test
    void closingTheArchiveLeavesTheFileToItsOwner() throws IOException {
        Path path = Files.write(dir.resolve("model.pt"), archive("archive", new byte[] {1, 2, 3}, filled(8, 7)));
        try (MappedFile file = MappedFile.open(path)) {
            ZipContainer.Entry rec;
            try (ZipContainer zip = ZipContainer.open(file)) {
                rec = zip.entry("data/0").orElseThrow();
            }
            assertFalse(file.isClosed());
            assertArrayEquals(filled(8, 7), file.read(rec.dataOffset(), 8));
            assertEquals(7, file.region(rec.dataOffset(), 8, ByteOrder.LITTLE_ENDIAN).slice(0, 8).get(7));
            // A second index over the same open file still reads.
            try (ZipContainer again = ZipContainer.open(file)) {
                assertEquals(List.of("data.pkl", "data/0"), again.names());
            }
        }
    }

    @Test
    void requireRecords() throws IOException {
        // An archive that is only its end record: a valid zip, no records.
        byte[] empty = new byte[22];
        ByteBuffer.wrap(empty).order(ByteOrder.LITTLE_ENDIAN).putInt(0x06054b50);
        Path path = Files.write(dir.resolve("empty.pt"), empty);
        try (MappedFile file = MappedFile.open(path)) {
            CheckpointException e = assertThrows(CheckpointException.class, () -> ZipContainer.open(file).close());
            assertEquals(Kind.MALFORMED, e.kind());
            assertTrue(e.getMessage().contains("the zip archive has no records"), e.getMessage());
        }
    }

    @Test
    void requireKnownExtent() {
        assertDoesNotThrow(() -> ZipContainer.requireKnownExtent("data/0", 0, 0, 0));
        for (long[] bad : new long[][] {{-1, 8, 8}, {64, -1, 8}, {64, 8, -1}}) {
            CheckpointException e = assertThrows(CheckpointException.class,
                    () -> ZipContainer.requireKnownExtent("data/0", bad[0], bad[1], bad[2]));
            assertEquals(Kind.MALFORMED, e.kind());
            assertEquals("data/0", e.record().orElseThrow());
            assertTrue(e.getMessage().contains("no valid data offset or size"), e.getMessage());
        }
    }

    @Test
    void requireDataInsideFile() {
        assertDoesNotThrow(() -> ZipContainer.requireDataInsideFile("data/0", 64, 36, 100)); // ends at the end
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> ZipContainer.requireDataInsideFile("data/0", 64, 37, 100));
        assertEquals(Kind.TRUNCATED, e.kind());
        assertEquals("data/0", e.record().orElseThrow());
        assertEquals("data/0: record data [64, 101) extends past the end of the 100-byte file "
                + "(an incomplete download or copy?)", e.getMessage());
        // A size chosen to wrap offset + size around to a small number is still past the end.
        e = assertThrows(CheckpointException.class,
                () -> ZipContainer.requireDataInsideFile("data/0", 64, Long.MAX_VALUE, 100));
        assertEquals(Kind.TRUNCATED, e.kind());
        assertTrue(e.getMessage().contains("[64, 9223372036854775871)"), e.getMessage());
    }

    @Test
    void requireBeforeCentralDirectory() {
        assertDoesNotThrow(() -> ZipContainer.requireBeforeCentralDirectory("data/0", 0, 100, 100));
        for (long[] bad : new long[][] {{0, 101}, {100, 100}}) {
            CheckpointException e = assertThrows(CheckpointException.class,
                    () -> ZipContainer.requireBeforeCentralDirectory("data/0", bad[0], bad[1], 100));
            assertEquals(Kind.MALFORMED, e.kind());
            assertEquals("data/0", e.record().orElseThrow());
            assertTrue(e.getMessage().contains("overlaps the central directory at 100"), e.getMessage());
        }
    }

    @Test
    void requireNoOverlapAllowsRecordsThatOnlyTouch() {
        List<ZipContainer.Span> touching = new ArrayList<>(List.of(new ZipContainer.Span(50, 80),
                new ZipContainer.Span(0, 50)));
        assertDoesNotThrow(() -> ZipContainer.requireNoOverlap(touching));
        List<ZipContainer.Span> sharing = new ArrayList<>(List.of(new ZipContainer.Span(49, 80),
                new ZipContainer.Span(0, 50)));
        CheckpointException e = assertThrows(CheckpointException.class, () -> ZipContainer.requireNoOverlap(sharing));
        assertEquals(Kind.MALFORMED, e.kind());
        assertTrue(e.getMessage().contains("two records overlap at byte 49"), e.getMessage());
    }
}
