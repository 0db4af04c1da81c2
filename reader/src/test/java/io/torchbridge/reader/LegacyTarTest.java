package io.torchbridge.reader;

import static io.torchbridge.testing.LegacyTarBytes.floatStorage;
import static io.torchbridge.testing.LegacyTarBytes.pickle;
import static io.torchbridge.testing.LegacyTarBytes.storages;
import static io.torchbridge.testing.LegacyTarBytes.tensor;
import static io.torchbridge.testing.LegacyTarBytes.views;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.testing.LegacyBytes;
import io.torchbridge.testing.LegacyTarBytes;
import io.torchbridge.testing.P;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The legacy tar (torch/serialization.py, {@code _legacy_load.legacy_load}) from crafted members:
 * what it holds reads, and every inconsistency is a clean error. The fixture built to torch's
 * rules is compared with torch in compat-tests (LegacyTarFixtureTest).
 */
class LegacyTarTest {
    private static final long[] V4 = {4};
    private static final long[] S1 = {1};

    @TempDir
    Path dir;

    private static byte[] storagesMember() {
        ByteArrayOutputStream s = storages(1);
        floatStorage(s, 1, 6, LegacyBytes.floats(1, 2, 3, 4, 5, 6));
        views(s, new long[] {2, 1, 2, 3}); // storage 2: elements [2, 5) of storage 1
        return s.toByteArray();
    }

    private static byte[] tensorsMember() {
        ByteArrayOutputStream t = storages(2);
        tensor(t, 10, 1, V4, S1, 2);          // elements 2..5 of storage 1
        tensor(t, 11, 2, new long[] {2}, new long[] {2}, 0); // elements 0 and 2 of view 2
        return t.toByteArray();
    }

    /** A good tar: sys_info, pickle, tensors, storages, as torch wrote them. */
    private static LegacyTarBytes good() {
        return new LegacyTarBytes().member("sys_info", P.proto(2).emptyDict().stop().bytes())
                .member("pickle", pickle("w", 10, "v", 11)).member("tensors", tensorsMember())
                .member("storages", storagesMember());
    }

    private static LegacyTarBytes with(String member, byte[] data) {
        LegacyTarBytes t = good();
        t.entries.replaceAll(m -> m.name().equals(member) ? new LegacyTarBytes.Member(member, data, false) : m);
        return t;
    }

    private CheckpointException refuse(LegacyTarBytes t) throws IOException {
        Path p = t.write(dir, "bad.tar");
        return assertThrows(CheckpointException.class, () -> Checkpoint.open(p).close());
    }

    private CheckpointException refuse(LegacyTarBytes t, Kind kind, String record) throws IOException {
        CheckpointException e = refuse(t);
        assertEquals(kind, e.kind(), e.getMessage());
        if (record != null) {
            assertEquals(record, e.record().orElseThrow(), e.getMessage());
        }
        return e;
    }

    @Test
    void tensorsOnStoragesAndStorageViewsRead() throws IOException {
        try (Checkpoint c = Checkpoint.open(good().write(dir, "ok.tar"))) {
            assertEquals(Format.TAR, c.format());
            assertEquals(List.of("sys_info", "pickle", "tensors", "storages"), c.records());
            assertEquals(List.of("w", "v"), c.names());
            assertArrayEquals(new float[] {3, 4, 5, 6}, c.tensor("w").toFloatArray());
            assertArrayEquals(new float[] {3, 5}, c.tensor("v").toFloatArray());
            assertEquals("2", c.tensor("v").info().storage().key());
            assertEquals(12, c.tensor("v").info().storage().nbytes());
        }
    }

    @Test
    void aMissingMemberIsNamed() throws IOException {
        LegacyTarBytes t = good();
        t.entries.removeIf(m -> m.name().equals("tensors"));
        assertTrue(refuse(t, Kind.MALFORMED, null).getMessage().contains("no 'tensors' member"));
    }

    @Test
    void aMemberNamedTwiceIsRefused() throws IOException {
        LegacyTarBytes t = good().member("pickle", pickle("w", 11));
        assertTrue(refuse(t, Kind.MALFORMED, "pickle").getMessage().contains("two members named"));
    }

    @Test
    void aMemberThatIsALinkIsRefused() throws IOException {
        LegacyTarBytes t = good();
        t.entries.removeIf(m -> m.name().equals("sys_info"));
        t.link("sys_info");
        refuse(t, Kind.UNSUPPORTED, "sys_info");
    }

    @Test
    void aCutOffArchiveIsRefused() throws IOException {
        byte[] whole = good().bytes();
        // four members of one header and one data block each: the storages' data starts at block 7
        Path p = Files.write(dir.resolve("cut.tar"), java.util.Arrays.copyOf(whole, 512 * 7 + 20));
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(p));
        assertEquals(Kind.TRUNCATED, e.kind(), e.getMessage());
    }

    @Test
    void aStorageCountBeyondTheMemberIsRefused() throws IOException {
        byte[] s = storagesMember();
        byte[] lying = P.proto(2).integer(1_000_000).stop().bytes();
        byte[] count = P.proto(2).integer(1).stop().bytes();
        byte[] rest = java.util.Arrays.copyOfRange(s, count.length, s.length);
        // refused before any storage is read, with the count it declares
        assertTrue(refuse(with("storages", concat(lying, rest)), Kind.MALFORMED, "storages").getMessage()
                .contains("declares 1000000 storages"));
    }

    @Test
    void storageArgumentsOfTheWrongShapeAreRefused() throws IOException {
        ByteArrayOutputStream s = storages(1);
        s.writeBytes(P.proto(2).mark().integer(1).str("cpu").tuple().stop().bytes());
        s.writeBytes(LegacyTarBytes.le(0));
        views(s);
        refuse(with("storages", s.toByteArray()), Kind.MALFORMED, "storages");
    }

    @Test
    void aStoragePastTheMemberIsTruncated() throws IOException {
        ByteArrayOutputStream s = storages(1);
        floatStorage(s, 1, 600, LegacyBytes.floats(1, 2, 3, 4, 5, 6));
        views(s);
        refuse(with("storages", s.toByteArray()), Kind.TRUNCATED, "storages");
    }

    @Test
    void viewsThatAreNoListAreRefused() throws IOException {
        ByteArrayOutputStream s = storages(1);
        floatStorage(s, 1, 6, LegacyBytes.floats(1, 2, 3, 4, 5, 6));
        s.writeBytes(P.proto(2).none().stop().bytes());
        refuse(with("storages", s.toByteArray()), Kind.MALFORMED, "storages");
    }

    @Test
    void aViewOfAnUnknownRootIsRefused() throws IOException {
        ByteArrayOutputStream s = storages(1);
        floatStorage(s, 1, 6, LegacyBytes.floats(1, 2, 3, 4, 5, 6));
        views(s, new long[] {2, 9, 0, 1});
        assertTrue(refuse(with("storages", s.toByteArray()), Kind.MALFORMED, "storages").getMessage()
                .contains("names root 9"));
    }

    @Test
    void aViewPastItsRootIsOutOfRange() throws IOException {
        ByteArrayOutputStream s = storages(1);
        floatStorage(s, 1, 6, LegacyBytes.floats(1, 2, 3, 4, 5, 6));
        views(s, new long[] {2, 1, 4, 3});
        refuse(with("storages", s.toByteArray()), Kind.OUT_OF_RANGE, "storages");
    }

    @Test
    void bytesAfterTheViewsAreRefused() throws IOException {
        refuse(with("storages", concat(storagesMember(), new byte[] {1, 2, 3})), Kind.MALFORMED, "storages");
    }

    @Test
    void aTensorCountBeyondTheMemberIsRefused() throws IOException {
        byte[] t = tensorsMember();
        byte[] count = P.proto(2).integer(2).stop().bytes();
        byte[] rest = java.util.Arrays.copyOfRange(t, count.length, t.length);
        assertTrue(refuse(with("tensors", concat(P.proto(2).integer(100_000).stop().bytes(), rest)), Kind.MALFORMED,
                "tensors").getMessage().contains("declares 100000 tensors"));
    }

    @Test
    void tensorArgumentsOfTheWrongShapeAreRefused() throws IOException {
        ByteArrayOutputStream t = storages(1);
        t.writeBytes(P.proto(2).mark().integer(10).integer(1).tuple().stop().bytes());
        t.writeBytes(new byte[16]);
        refuse(with("tensors", t.toByteArray()), Kind.MALFORMED, "tensors");
    }

    @Test
    void aTensorOnAnUnknownStorageIsRefused() throws IOException {
        ByteArrayOutputStream t = storages(1);
        tensor(t, 10, 7, V4, S1, 0);
        assertTrue(refuse(with("tensors", t.toByteArray()), Kind.MALFORMED, "tensors").getMessage()
                .contains("names storage 7"));
    }

    @Test
    void aTensorWithMoreDimensionsThanBytesIsRefused() throws IOException {
        ByteArrayOutputStream t = storages(1);
        t.writeBytes(P.proto(2).mark().integer(10).integer(1).global("torch", "FloatTensor").tuple().stop().bytes());
        t.writeBytes(java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(1 << 30)
                .putInt(0).array());
        t.writeBytes(new byte[24]);
        refuse(with("tensors", t.toByteArray()), Kind.MALFORMED, "tensors");
    }

    @Test
    void bytesAfterTheLastTensorAreRefused() throws IOException {
        refuse(with("tensors", concat(tensorsMember(), new byte[] {0})), Kind.MALFORMED, "tensors");
    }

    @Test
    void aKeyGivenTwiceIsRefused() throws IOException {
        ByteArrayOutputStream t = storages(1);
        tensor(t, 1, 1, V4, S1, 0); // 1 is storage 1's key already
        refuse(with("tensors", t.toByteArray()), Kind.MALFORMED, "tensors");
    }

    @Test
    void aTensorPastItsStorageIsOutOfRangeUnderItsName() throws IOException {
        ByteArrayOutputStream t = storages(2);
        tensor(t, 10, 1, V4, S1, 3);
        tensor(t, 11, 2, new long[] {2}, new long[] {2}, 0);
        CheckpointException e = refuse(with("tensors", t.toByteArray()), Kind.OUT_OF_RANGE, null);
        assertEquals("w", e.tensorName().orElseThrow());
    }

    @Test
    void aPickleNamingAnUnknownKeyIsRefused() throws IOException {
        refuse(with("pickle", pickle("w", 99)), Kind.MALFORMED, "pickle");
    }

    @Test
    void aPickleMemberOverTheLimitIsRefused() throws IOException {
        Path p = with("pickle", P.proto(2).str("x".repeat(5000)).stop().bytes()).write(dir, "long.tar");
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> Checkpoint.open(p, ReadOptions.builder().maxPickleBytes(4096).build()));
        assertEquals(Kind.LIMIT_EXCEEDED, e.kind());
    }

    @Test
    void aGlobalOffTheAllowlistIsDisallowed() throws IOException {
        ByteArrayOutputStream s = storages(1);
        s.writeBytes(P.proto(2).mark().integer(1).str("cpu").global("os", "system").tuple().stop().bytes());
        refuse(with("storages", s.toByteArray()), Kind.DISALLOWED_GLOBAL, "storages");
    }

    @Test
    void theScanNamesTheTarAndWhatItsMetadataPicklesName() throws IOException {
        io.torchbridge.reader.scan.Scan.Report r = io.torchbridge.reader.scan.Scan.scan(good().write(dir, "s.tar"));
        assertEquals("tar", r.format());
        assertTrue(r.readsByDefault() && !r.torchWouldLoad(), r.toString());
        ByteArrayOutputStream s = storages(1);
        s.writeBytes(P.proto(2).mark().integer(1).str("cpu").global("os", "system").tuple().stop().bytes());
        io.torchbridge.reader.scan.Scan.Report bad = io.torchbridge.reader.scan.Scan.scan(
                with("storages", s.toByteArray()).write(dir, "bad.tar"));
        assertTrue(bad.findings().stream().anyMatch(f -> f.startsWith("os.system at storages+0x")), bad.findings()
                .toString());
        assertTrue(!bad.readsByDefault() && !bad.torchWouldLoad());
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
