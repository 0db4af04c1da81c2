package io.torchbridge.reader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.testing.P;
import io.torchbridge.testing.TestZip;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
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
        // data/1's central entry points at data/0's local header: two records, one range of bytes.
        CheckpointException e = refuse(valid(false, PKL, zip -> zip.overlap("data/1", "data/0")));
        assertEquals(Kind.MALFORMED, e.kind());
        assertTrue(e.getMessage().contains("overlap"), e.getMessage());
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
        assertTrue(e.kind() == Kind.TRUNCATED || e.kind() == Kind.MALFORMED, e.toString());
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
}
