package io.torchbridge.reader;

import static io.torchbridge.testing.LegacyBytes.dictOf;
import static io.torchbridge.testing.LegacyBytes.floats;
import static io.torchbridge.testing.LegacyBytes.row;
import static io.torchbridge.testing.LegacyBytes.rows;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.reader.internal.data.MappedFile;
import io.torchbridge.reader.internal.format.LegacyStream;
import io.torchbridge.testing.LegacyBytes;
import io.torchbridge.testing.P;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The legacy stream (torch/serialization.py, {@code _legacy_save}) from crafted bytes: what it
 * holds reads, and every disagreement between its parts is a clean error with its place. Real
 * files from torch 1.13, 2.6 and 2.14 are compared with torch in compat-tests (LegacyFixtureTest).
 */
class LegacyStreamTest {
    private static final long[] V3 = {3};
    private static final long[] S1 = {1};

    @TempDir
    Path dir;

    /** {'a': 3 floats of storage k1, 'b': the last two of them (offset 1)} and their bytes. */
    private static LegacyBytes twoViews() {
        LegacyBytes f = new LegacyBytes(dictOf(rows(row("a", "k1", 3, 0, V3, S1),
                row("b", "k1", 3, 1, new long[] {2}, S1))), "k1");
        f.storage(3, floats(1.5f, -2f, 4f));
        return f;
    }

    private CheckpointException refuse(LegacyBytes f) throws IOException {
        Path p = f.write(dir, "bad.pt");
        return assertThrows(CheckpointException.class, () -> Checkpoint.open(p).close());
    }

    @Test
    void viewsOfOneStorageReadFromTheMappedFile() throws IOException {
        try (Checkpoint c = Checkpoint.open(twoViews().write(dir, "ok.pt"))) {
            assertEquals(Format.LEGACY, c.format());
            assertEquals(List.of("a", "b"), c.names());
            assertArrayEquals(new float[] {1.5f, -2f, 4f}, c.tensor("a").toFloatArray());
            assertArrayEquals(new float[] {-2f, 4f}, c.tensor("b").toFloatArray());
            assertEquals("k1", c.tensor("b").info().storage().key());
            assertEquals(LegacyStream.PARTS, c.records());
            assertEquals("", c.archiveName());
            assertEquals(1001, c.formatVersion());
        }
    }

    @Test
    void theMagicNumberInTextFormAsProtocols0And1WriteIt() throws IOException {
        // protocol 1: LONG "L<digits>L\n" then STOP (no PROTO opcode), as torch writes with pickle_protocol=1
        LegacyBytes f = twoViews();
        f.magic = P.raw().op('L').line(LegacyBytes.MAGIC + "L").stop().bytes();
        try (Checkpoint c = Checkpoint.open(f.write(dir, "p1.pt"))) {
            assertEquals(Format.LEGACY, c.format());
            assertArrayEquals(new float[] {-2f, 4f}, c.tensor("b").toFloatArray());
        }
    }

    @Test
    void aWrongMagicNumberIsNoLegacyStream() throws IOException {
        LegacyBytes f = twoViews();
        f.magic = P.proto(2).long1(LegacyBytes.MAGIC.add(java.math.BigInteger.ONE)).stop().bytes();
        Path p = f.write(dir, "m.pt");
        assertEquals(Kind.MALFORMED, assertThrows(CheckpointException.class, () -> Checkpoint.open(p)).kind());
        // read as a legacy stream anyway (LegacyStream is what the scanner uses too)
        try (MappedFile file = MappedFile.open(p)) {
            CheckpointException e = assertThrows(CheckpointException.class,
                    () -> new LegacyStream(file).unpickle(ReadOptions.defaults(), false));
            assertEquals(Kind.MALFORMED, e.kind());
            assertEquals("magic_number", e.record().orElseThrow());
        }
    }

    @Test
    void anotherProtocolVersionIsUnsupported() throws IOException {
        LegacyBytes f = twoViews();
        f.version = P.proto(2).integer(1000).stop().bytes();
        CheckpointException e = refuse(f);
        assertEquals(Kind.UNSUPPORTED, e.kind());
        assertEquals("protocol_version", e.record().orElseThrow());
    }

    @Test
    void sysInfoMustBeADict() throws IOException {
        LegacyBytes f = twoViews();
        f.sysInfo = P.proto(2).none().stop().bytes();
        CheckpointException e = refuse(f);
        assertEquals(Kind.MALFORMED, e.kind());
        assertEquals("sys_info", e.record().orElseThrow());
    }

    @Test
    void theKeyListMustBeAList() throws IOException {
        LegacyBytes f = twoViews();
        f.keys = P.proto(2).str("k1").stop().bytes();
        CheckpointException e = refuse(f);
        assertEquals(Kind.MALFORMED, e.kind());
        assertEquals("storage_keys", e.record().orElseThrow());
    }

    @Test
    void aCountThatDisagreesWithThePickleIsRefusedAtItsOffset() throws IOException {
        LegacyBytes f = new LegacyBytes(twoViews().object, "k1");
        f.storage(4, floats(1, 2, 3, 4));
        CheckpointException e = refuse(f);
        assertEquals(Kind.MALFORMED, e.kind());
        assertEquals(f.storagesOffset(), e.offset());
        assertTrue(e.getMessage().contains("'k1' holds 4 elements but the pickle declares a FloatStorage of 3"),
                e.getMessage());
    }

    @Test
    void aStorageThatRunsPastTheEndIsTruncated() throws IOException {
        LegacyBytes f = new LegacyBytes(twoViews().object, "k1");
        f.storage(3, floats(1, 2)); // 8 of its 12 bytes
        CheckpointException e = refuse(f);
        assertEquals(Kind.TRUNCATED, e.kind());
        assertEquals(f.storagesOffset() + 8, e.offset());
    }

    @Test
    void aFileThatEndsBeforeACountIsTruncated() throws IOException {
        LegacyBytes f = new LegacyBytes(twoViews().object, "k1");
        f.storages.writeBytes(new byte[] {3, 0, 0}); // 3 of the count's 8 bytes
        CheckpointException e = refuse(f);
        assertEquals(Kind.TRUNCATED, e.kind());
        assertEquals(f.storagesOffset(), e.offset());
    }

    @Test
    void aListedKeyThePickleNeverNamesIsRefused() throws IOException {
        LegacyBytes f = new LegacyBytes(twoViews().object, "k0", "k1");
        f.storage(1, floats(9)).storage(3, floats(1, 2, 3));
        CheckpointException e = refuse(f);
        assertEquals(Kind.MALFORMED, e.kind());
        assertEquals("storage_keys", e.record().orElseThrow());
        assertTrue(e.getMessage().contains("'k0'"), e.getMessage());
    }

    @Test
    void aStorageThePickleNamesButTheListLacksIsRefused() throws IOException {
        LegacyBytes f = new LegacyBytes(dictOf(rows(row("a", "k1", 3, 0, V3, S1), row("z", "k2", 1, 0, S1, S1))),
                "k1");
        f.storage(3, floats(1, 2, 3));
        CheckpointException e = refuse(f);
        assertEquals(Kind.MALFORMED, e.kind());
        assertTrue(e.getMessage().contains("'k2'"), e.getMessage());
    }

    @Test
    void aKeyListedTwiceIsRefused() throws IOException {
        LegacyBytes f = new LegacyBytes(twoViews().object, "k1", "k1");
        f.storage(3, floats(1, 2, 3)).storage(3, floats(1, 2, 3));
        CheckpointException e = refuse(f);
        assertEquals(Kind.MALFORMED, e.kind());
        assertTrue(e.getMessage().contains("listed twice"), e.getMessage());
    }

    @Test
    void aStorageNamedTwiceWithTwoSizesIsRefused() throws IOException {
        LegacyBytes f = new LegacyBytes(dictOf(rows(row("a", "k1", 3, 0, V3, S1), row("b", "k1", 4, 0, V3, S1))),
                "k1");
        f.storage(3, floats(1, 2, 3));
        CheckpointException e = refuse(f);
        assertEquals(Kind.MALFORMED, e.kind());
        assertTrue(e.getMessage().contains("named twice"), e.getMessage());
    }

    @Test
    void bytesAfterTheLastStorageAreRefused() throws IOException {
        LegacyBytes f = twoViews();
        f.storages.writeBytes("garbage".getBytes(StandardCharsets.US_ASCII));
        CheckpointException e = refuse(f);
        assertEquals(Kind.MALFORMED, e.kind());
        assertEquals(f.bytes().length - 7, e.offset());
    }

    @Test
    void aViewPastItsStorageIsOutOfRangeUnderItsName() throws IOException {
        LegacyBytes f = new LegacyBytes(dictOf(rows(row("big", "k1", 3, 2, V3, S1))), "k1");
        f.storage(3, floats(1, 2, 3));
        CheckpointException e = refuse(f);
        assertEquals(Kind.OUT_OF_RANGE, e.kind());
        assertEquals("big", e.tensorName().orElseThrow());
    }

    @Test
    void anObjectPickleCutOffIsTruncated() throws IOException {
        LegacyBytes f = twoViews();
        byte[] whole = f.bytes();
        int cut = f.magic.length + f.version.length + f.sysInfo.length + 20;
        Path p = java.nio.file.Files.write(dir.resolve("cut.pt"), java.util.Arrays.copyOf(whole, cut));
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(p));
        assertEquals(Kind.TRUNCATED, e.kind());
        assertEquals("pickle", e.record().orElseThrow());
    }

    @Test
    void anObjectPickleOverTheLimitIsRefusedBeforeItIsRead() throws IOException {
        LegacyBytes f = twoViews();
        f.object = P.proto(2).str("x".repeat(20_000)).stop().bytes();
        f.keys = LegacyBytes.keyList();
        f.storages.reset();
        Path p = f.write(dir, "long.pt");
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> Checkpoint.open(p, ReadOptions.builder().maxPickleBytes(10_000).build()));
        assertEquals(Kind.LIMIT_EXCEEDED, e.kind());
        try (Checkpoint c = Checkpoint.open(p)) {
            assertEquals(20_000, ((String) c.root()).length());
        }
    }

    /** {'v': a float tensor of size 2 at offset 0 of view 'v1' = elements [from, from + size) of storage 'k1'}. */
    private static LegacyBytes storageView(long from, long size) {
        P p = P.proto(2).emptyDict().mark().str("v").global("torch._utils", "_rebuild_tensor_v2").mark();
        LegacyBytes.storageViewId(p, "FloatStorage", "k1", 4, "v1", from, size).integer(0).mark().integer(2).tuple()
                .mark().integer(1).tuple().op(0x89).global("collections", "OrderedDict").emptyTuple().reduce()
                .tuple().reduce().setitems().stop();
        LegacyBytes f = new LegacyBytes(p.bytes(), "k1");
        f.storage(4, floats(1, 2, 3, 4));
        return f;
    }

    @Test
    void aPre10StorageViewIsElementsOfItsRoot() throws IOException {
        try (Checkpoint c = Checkpoint.open(storageView(1, 2).write(dir, "view.pt"))) {
            assertArrayEquals(new float[] {2, 3}, c.tensor("v").toFloatArray());
            assertEquals("v1", c.tensor("v").info().storage().key());
            assertEquals(8, c.tensor("v").info().storage().nbytes());
        }
    }

    @Test
    void aStorageViewPastItsRootIsOutOfRange() throws IOException {
        CheckpointException e = refuse(storageView(3, 2));
        assertEquals(Kind.OUT_OF_RANGE, e.kind());
        assertEquals("pickle", e.record().orElseThrow());
        assertTrue(e.getMessage().contains("storage view 'v1'"), e.getMessage());
    }

    @Test
    void theScanWalksEachPickleOfTheStreamOnItsOwn() throws IOException {
        // five pickles back to back, then raw storages: no "bytes after STOP", no "unknown opcode"
        io.torchbridge.reader.scan.Scan.Report r = io.torchbridge.reader.scan.Scan.scan(twoViews().write(dir, "s.pt"));
        assertEquals("legacy", r.format());
        assertEquals(List.of(), r.findings());
        assertTrue(r.torchWouldLoad() && r.readsByDefault() && r.clean());
        // protocol 1's magic number is a text LONG, an opcode torch's weights_only loader lacks
        LegacyBytes p1 = twoViews();
        p1.magic = P.raw().op('L').line(LegacyBytes.MAGIC + "L").stop().bytes();
        io.torchbridge.reader.scan.Scan.Report r1 = io.torchbridge.reader.scan.Scan.scan(p1.write(dir, "s1.pt"));
        assertEquals(List.of(), r1.findings());
        assertTrue(!r1.torchWouldLoad() && r1.readsByDefault());
    }

    @Test
    void aGlobalOffTheAllowlistIsDisallowedAsInTheZip() throws IOException {
        LegacyBytes f = twoViews();
        f.object = P.proto(2).global("argparse", "Namespace").emptyTuple().reduce().stop().bytes();
        f.keys = LegacyBytes.keyList();
        f.storages.reset();
        CheckpointException e = refuse(f);
        assertEquals(Kind.DISALLOWED_GLOBAL, e.kind());
        assertEquals("pickle", e.record().orElseThrow());
    }
}
