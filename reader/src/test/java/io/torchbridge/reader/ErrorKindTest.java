package io.torchbridge.reader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.testing.Crafted;
import io.torchbridge.testing.P;
import io.torchbridge.testing.Repo;
import io.torchbridge.testing.TestZip;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One crafted file per error kind: the kind, the location and a message that says what to do. */
class ErrorKindTest {
    @TempDir
    Path dir;

    private CheckpointException refuse(byte[] pickle) {
        return refuse(pickle, ReadOptions.defaults());
    }

    private CheckpointException refuse(byte[] pickle, ReadOptions options) {
        return assertThrows(CheckpointException.class, () -> Crafted.root(dir, pickle, options));
    }

    private CheckpointException refuse(Path file) {
        return assertThrows(CheckpointException.class, () -> Checkpoint.open(file).close());
    }

    @Test
    void malformedReduceOnEmptyStack() {
        // 80 02 PROTO 2 | 52 REDUCE | 2e STOP
        CheckpointException e = refuse(P.proto(2).reduce().stop().bytes());
        assertEquals(Kind.MALFORMED, e.kind());
        assertEquals("data.pkl", e.record().orElseThrow());
        assertEquals(2, e.offset());
        assertEquals("data.pkl+0x2: REDUCE on an empty stack", e.getMessage());
    }

    @Test
    void malformedUnknownOpcode() {
        CheckpointException e = refuse(P.proto(2).raw(0xff).stop().bytes());
        assertEquals(Kind.MALFORMED, e.kind());
        assertTrue(e.getMessage().contains("unknown opcode 0xFF"), e.getMessage());
    }

    @Test
    void malformedNotACheckpointAtAll() throws IOException {
        Path f = Files.write(dir.resolve("notes.txt"), "hello, world".getBytes());
        CheckpointException e = refuse(f);
        assertEquals(Kind.MALFORMED, e.kind());
        assertTrue(e.getMessage().contains("not a PyTorch checkpoint"), e.getMessage());
    }

    @Test
    void malformedMissingDataPkl() throws IOException {
        Path f = Crafted.checkpoint(new byte[0]).without("data.pkl").record("other", new byte[] {1}).write(dir, "x.pt");
        CheckpointException e = refuse(f);
        assertEquals(Kind.MALFORMED, e.kind());
        assertTrue(e.getMessage().contains("no data.pkl"), e.getMessage());
    }

    @Test
    void malformedStorageSizeDisagreesWithRecord() throws IOException {
        // The pickle declares 4 floats (16 bytes); the record holds 12.
        byte[] pkl = P.proto(2).tensorV2("FloatStorage", "0", 4, 0, new long[] {4}, new long[] {1}).stop().bytes();
        Path f = Crafted.checkpoint(pkl).storage("0", new byte[12]).write(dir, "x.pt");
        CheckpointException e = refuse(f);
        assertEquals(Kind.MALFORMED, e.kind());
        assertEquals("data/0", e.record().orElseThrow());
    }

    @Test
    void malformedStorageNamedTwiceWithDifferentSizes() throws IOException {
        // The same key "0" as 4 floats, then as 2 floats: one record cannot be both.
        byte[] pkl = P.proto(2).mark()
                .tensorV2("FloatStorage", "0", 4, 0, new long[] {4}, new long[] {1})
                .tensorV2("FloatStorage", "0", 2, 0, new long[] {2}, new long[] {1})
                .tuple().stop().bytes();
        Path f = Crafted.checkpoint(pkl).storage("0", new byte[16]).write(dir, "x.pt");
        CheckpointException e = refuse(f);
        assertEquals(Kind.MALFORMED, e.kind());
        assertEquals("data/0", e.record().orElseThrow());
        assertTrue(e.getMessage().contains("named twice with different sizes (16 and 8 bytes)"), e.getMessage());
    }

    @Test
    void unsupportedCompressedStorageRecord() throws IOException {
        // torch.save stores storages uncompressed; a deflated one cannot be mapped.
        byte[] pkl = P.proto(2).tensorV2("FloatStorage", "0", 4, 0, new long[] {4}, new long[] {1}).stop().bytes();
        Path f = Files.write(dir.resolve("x.pt"), TestZip.bytes("archive", zip -> {
            zip.add("data.pkl", pkl);
            zip.addDeflated("data/0", new byte[16]);
            zip.add("version", "3\n".getBytes(StandardCharsets.US_ASCII));
        }));
        CheckpointException e = refuse(f);
        assertEquals(Kind.UNSUPPORTED, e.kind());
        assertEquals("data/0", e.record().orElseThrow());
        assertTrue(e.getMessage().contains("storage record is compressed"), e.getMessage());
    }

    @Test
    void unsupportedFormatVersionOutsideWhatPyTorchReads() throws IOException {
        // caffe2/serialize/versions.h: PyTorch reads file format versions 1 to 10.
        for (String v : List.of("0", "11")) {
            Path f = Crafted.checkpoint(P.proto(2).none().stop().bytes())
                    .record("version", (v + "\n").getBytes(StandardCharsets.US_ASCII)).write(dir, "v" + v + ".pt");
            CheckpointException e = refuse(f);
            assertEquals(Kind.UNSUPPORTED, e.kind(), v);
            assertTrue(e.getMessage().contains("file format version " + v + " is outside 1..10"), e.getMessage());
        }
    }

    @Test
    void malformedStorageNotAWholeNumberOfElements() throws IOException {
        // An untyped storage of 7 bytes read as float32 (_rebuild_tensor_v3): 7 is no multiple of 4.
        byte[] pkl = P.proto(2).global("torch._utils", "_rebuild_tensor_v3").mark()
                .mark().str("storage").global("torch.storage", "UntypedStorage").str("0").str("cpu").integer(7).tuple()
                .op('Q').integer(0).mark().integer(1).tuple().mark().integer(1).tuple()
                .op(0x89).global("collections", "OrderedDict").emptyTuple().reduce().global("torch", "float32")
                .tuple().reduce().stop().bytes();
        Path f = Crafted.checkpoint(pkl).storage("0", new byte[7]).write(dir, "x.pt");
        CheckpointException e = refuse(f);
        assertEquals(Kind.MALFORMED, e.kind());
        assertTrue(e.getMessage().contains("has 7 bytes, not a whole number of"), e.getMessage());
    }

    @Test
    void truncatedFileCutInHalf() throws IOException {
        Path real = Repo.fixture("2.14.1", "training_adam.pt");
        byte[] all = Files.readAllBytes(real);
        Path f = Files.write(dir.resolve("cut.pt"), Arrays.copyOf(all, all.length / 2));
        CheckpointException e = refuse(f);
        assertEquals(Kind.TRUNCATED, e.kind());
        assertTrue(e.getMessage().contains("cut off"), e.getMessage());
    }

    @Test
    void truncatedStringLongerThanThePickle() {
        // X ff ff ff 7f: BINUNICODE declaring 2 GiB with 0 bytes left; nothing may be allocated
        CheckpointException e = refuse(P.proto(2).op('X').le(0x7fffffffL, 4).bytes());
        assertEquals(Kind.TRUNCATED, e.kind());
        assertEquals(2, e.offset());
        assertTrue(e.getMessage().contains("declares 2147483647 bytes but only 0 remain"), e.getMessage());
    }

    @Test
    void truncatedEmptyFile() throws IOException {
        CheckpointException e = refuse(Files.write(dir.resolve("empty.pt"), new byte[0]));
        assertEquals(Kind.TRUNCATED, e.kind());
    }

    @Test
    void truncatedLegacyStream() throws IOException {
        // The pre-1.6 stream starts with pickle(0x1950A86A20F9469CFC6C): 80 02 8a 0a ..., cut off here
        Path f = Files.write(dir.resolve("old.pt"), new byte[] {(byte) 0x80, 2, (byte) 0x8a, 0x0a, 0x6c, (byte) 0xfc});
        CheckpointException e = refuse(f);
        assertEquals(Kind.TRUNCATED, e.kind());
        assertEquals("magic_number", e.record().orElseThrow());
    }

    @Test
    void malformedTorchScriptArchiveWithoutAModule() throws IOException {
        // constants.pkl makes it a TorchScript archive (torch/serialization.py, _is_torchscript_zip),
        // read as its module's state_dict; a None instead of the module is no such archive
        Path f = Crafted.checkpoint(P.proto(2).none().stop().bytes()).record("constants.pkl", new byte[] {(byte) 0x80, 2, '.'})
                .write(dir, "scripted.pt");
        CheckpointException e = refuse(f);
        assertEquals(Kind.MALFORMED, e.kind());
        assertTrue(e.getMessage().contains("not a scripted module"), e.getMessage());
    }

    @Test
    void unsupportedExtensionCodes() {
        // \x82 EXT1 01: copyreg extension registry, which only a Python process has
        CheckpointException e = refuse(P.proto(2).op(0x82).raw(1).stop().bytes());
        assertEquals(Kind.UNSUPPORTED, e.kind());
    }

    @Test
    void disallowedGlobalNamesItAndTheOptionToAdmitIt() {
        // c builtins\neval\n at offset 2
        CheckpointException e = refuse(P.proto(2).global("builtins", "eval").stop().bytes());
        assertEquals(Kind.DISALLOWED_GLOBAL, e.kind());
        assertEquals(2, e.offset());
        assertTrue(e.getMessage().startsWith("data.pkl+0x2: global 'builtins.eval' is not allowed"), e.getMessage());
        assertTrue(e.getMessage().contains("ReadOptions.builder().allowGlobal(\"builtins\", \"eval\")"), e.getMessage());
        assertTrue(e.getMessage().contains("--allow-global builtins.eval"), e.getMessage());
    }

    @Test
    void blockedModulesAreRefusedEvenWhenAdmitted() {
        // c posix\nsystem\n: never admitted, as in PyTorch
        ReadOptions admit = ReadOptions.builder().allowGlobal("posix", "system").build();
        CheckpointException e = refuse(P.proto(2).global("posix", "system").stop().bytes(), admit);
        assertEquals(Kind.DISALLOWED_GLOBAL, e.kind());
        assertTrue(e.getMessage().contains("never allowed"), e.getMessage());
    }

    @Test
    void outOfRangeViewPastItsStorage() throws IOException {
        // A [2, 3] float view at offset 1 needs elements 1..6 of a 6-element storage.
        byte[] pkl = P.proto(2).tensorV2("FloatStorage", "0", 6, 1, new long[] {2, 3}, new long[] {3, 1}).stop().bytes();
        Path f = Crafted.checkpoint(pkl).storage("0", new byte[24]).write(dir, "x.pt");
        CheckpointException e = refuse(f);
        assertEquals(Kind.OUT_OF_RANGE, e.kind());
        assertTrue(e.getMessage().contains("reaches element 6 of storage '0', which has 6"), e.getMessage());
    }

    @Test
    void outOfRangeViewNamesTheTensorTheRecordAndTheRebuildsOffset() throws IOException {
        // {'fc.weight': the view above}: the error says where the pickle built it and what it is called.
        P p = P.proto(2).emptyDict().mark().str("fc.weight")
                .tensorV2("FloatStorage", "0", 6, 1, new long[] {2, 3}, new long[] {3, 1});
        int reduce = p.bytes().length - 1; // the rebuild's REDUCE
        Path f = Crafted.checkpoint(p.setitems().stop().bytes()).storage("0", new byte[24]).write(dir, "x.pt");
        CheckpointException e = refuse(f);
        assertEquals(Kind.OUT_OF_RANGE, e.kind());
        assertEquals("data.pkl", e.record().orElseThrow());
        assertEquals(reduce, e.offset());
        assertEquals("fc.weight", e.tensorName().orElseThrow());
        assertTrue(e.getMessage().startsWith(String.format("data.pkl+0x%X: tensor 'fc.weight': ", reduce)),
                e.getMessage());
        assertTrue(e.getMessage().contains("reaches element 6 of storage '0', which has 6"), e.getMessage());
    }

    @Test
    void outOfRangeNegativeStrideNamesTheTensor() throws IOException {
        byte[] pkl = P.proto(2).emptyDict().mark().str("bias")
                .tensorV2("FloatStorage", "0", 6, 0, new long[] {6}, new long[] {-1}).setitems().stop().bytes();
        Path f = Crafted.checkpoint(pkl).storage("0", new byte[24]).write(dir, "x.pt");
        CheckpointException e = refuse(f);
        assertEquals(Kind.OUT_OF_RANGE, e.kind());
        assertEquals("bias", e.tensorName().orElseThrow());
        assertTrue(e.getMessage().contains("stride is negative (-1)"), e.getMessage());
    }

    @Test
    void malformedStorageReadAsAnotherDtypeNamesTheTensor() throws IOException {
        // {'w': _rebuild_tensor_v3(<FloatStorage>, 0, (6,), (1,), False, OrderedDict(), torch.int32)}
        P p = P.proto(2).emptyDict().mark().str("w").global("torch._utils", "_rebuild_tensor_v3").mark();
        p.storage("FloatStorage", "0", 6).integer(0).mark().integer(6).tuple().mark().integer(1).tuple()
                .op(0x89).global("collections", "OrderedDict").emptyTuple().reduce().global("torch", "int32")
                .tuple().reduce();
        int reduce = p.bytes().length - 1;
        Path f = Crafted.checkpoint(p.setitems().stop().bytes()).storage("0", new byte[24]).write(dir, "x.pt");
        CheckpointException e = refuse(f);
        assertEquals(Kind.MALFORMED, e.kind());
        assertEquals(reduce, e.offset());
        assertEquals("w", e.tensorName().orElseThrow());
        assertTrue(e.getMessage().contains("reads a float32 storage as int32"), e.getMessage());
    }

    @Test
    void outOfRangeViewOutsideEveryNameIsStillRefused() throws IOException {
        // A bad view the tree never names: an argument of an inert call (torch.device(view)), which
        // the tree keeps but does not walk for names, and one popped off the stack before STOP.
        P inert = P.proto(2).global("torch", "device").mark()
                .tensorV2("FloatStorage", "0", 6, 1, new long[] {2, 3}, new long[] {3, 1}).tuple().reduce();
        Path f = Crafted.checkpoint(inert.stop().bytes()).storage("0", new byte[24]).write(dir, "inert.pt");
        CheckpointException e = refuse(f);
        assertEquals(Kind.OUT_OF_RANGE, e.kind());
        assertFalse(e.tensorName().isPresent());

        P popped = P.proto(2).tensorV2("FloatStorage", "0", 6, 1, new long[] {2, 3}, new long[] {3, 1})
                .op('0').none();
        f = Crafted.checkpoint(popped.stop().bytes()).storage("0", new byte[24]).write(dir, "popped.pt");
        e = refuse(f);
        assertEquals(Kind.OUT_OF_RANGE, e.kind());
        assertTrue(e.getMessage().contains("reaches element 6 of storage '0', which has 6"), e.getMessage());
    }

    @Test
    void outOfRangeNegativeStride() throws IOException {
        byte[] pkl = P.proto(2).tensorV2("FloatStorage", "0", 6, 0, new long[] {6}, new long[] {-1}).stop().bytes();
        Path f = Crafted.checkpoint(pkl).storage("0", new byte[24]).write(dir, "x.pt");
        assertEquals(Kind.OUT_OF_RANGE, refuse(f).kind());
    }

    @Test
    void limitExceededNesting() {
        // 50 nested lists with a nesting limit of 10
        P p = P.proto(2);
        for (int i = 0; i < 50; i++) {
            p.op(']');
        }
        for (int i = 0; i < 49; i++) {
            p.op('a');
        }
        CheckpointException e = refuse(p.stop().bytes(), ReadOptions.builder().maxNesting(10).build());
        assertEquals(Kind.LIMIT_EXCEEDED, e.kind());
        assertTrue(e.getMessage().contains("maxNesting"), e.getMessage());
    }

    @Test
    void malformedAListThatContainsItself() {
        // ] q\x00 h\x00 a .  : an empty list, memoized, then appended to itself: a cycle, which no
        // checkpoint holds (and whose walk would never end); refused as such, not as a nesting limit.
        byte[] pickle = P.proto(2).op(']').raw('q', 0).raw('h', 0).op('a').stop().bytes();
        CheckpointException e = refuse(pickle);
        assertEquals(Kind.MALFORMED, e.kind());
        assertTrue(e.getMessage().contains("contains itself"), e.getMessage());
    }

    @Test
    void limitExceededDictKeyNestsTuplesTooDeeply() {
        // } N 85*20 N s .  : {((((None,),),...): None} with 20 levels of tuples in the key and a
        // nesting limit of 10: refused while the key is hashed, at SETITEM, before any tree is built.
        P p = P.proto(2).emptyDict().none();
        for (int i = 0; i < 20; i++) {
            p.op(0x85);
        }
        CheckpointException e = refuse(p.none().op('s').stop().bytes(), ReadOptions.builder().maxNesting(10).build());
        assertEquals(Kind.LIMIT_EXCEEDED, e.kind());
        assertTrue(e.getMessage().contains("SETITEM: a dict key nests tuples deeper than 10 levels"), e.getMessage());
    }

    @Test
    void limitExceededMemo() {
        P p = P.proto(4);
        for (int i = 0; i < 100; i++) {
            p.op('N').op(0x94).op('0');
        }
        CheckpointException e = refuse(p.none().stop().bytes(), ReadOptions.builder().maxMemo(50).build());
        assertEquals(Kind.LIMIT_EXCEEDED, e.kind());
        assertTrue(e.getMessage().contains("maxMemo"), e.getMessage());
    }

    @Test
    void limitExceededStack() {
        P p = P.proto(2).mark();
        for (int i = 0; i < 100; i++) {
            p.none();
        }
        CheckpointException e = refuse(p.tuple().stop().bytes(), ReadOptions.builder().maxStack(50).build());
        assertEquals(Kind.LIMIT_EXCEEDED, e.kind());
    }

    @Test
    void limitExceededOneTensorUnderTooManyPathsNamesIt() throws IOException {
        // [t, t, ..., t]: one tensor (memo 0) listed 65 times, so it has 65 names, one more than allowed.
        P p = P.proto(2).tensorV2("FloatStorage", "0", 1, 0, new long[] {1}, new long[] {1}).op('q').raw(0)
                .op('0').op(']').mark();
        for (int i = 0; i <= ValueTree.MAX_PATHS_PER_TENSOR; i++) {
            p.op('h').raw(0);
        }
        Path f = Crafted.checkpoint(p.op('e').stop().bytes()).storage("0", new byte[4]).write(dir, "x.pt");
        CheckpointException e = refuse(f);
        assertEquals(Kind.LIMIT_EXCEEDED, e.kind());
        assertEquals("0", e.tensorName().orElseThrow(), "the first name it was given");
        assertTrue(e.getMessage().contains("tensor '0': reached under more than 64 paths"), e.getMessage());
    }

    @Test
    void ioMissingFile() {
        CheckpointException e = refuse(dir.resolve("absent.pt"));
        assertEquals(Kind.IO, e.kind());
        assertTrue(e.getMessage().contains("absent.pt"), e.getMessage());
    }

    @Test
    void aFailedOpenLeavesNothingOpen() throws IOException {
        // Refused after the zip was indexed: the file must be closed (deletable, no leaked handle).
        Path f = Crafted.checkpoint(P.proto(2).global("os", "system").stop().bytes()).write(dir, "bad.pt");
        for (int i = 0; i < 2000; i++) {
            refuse(f);
        }
        long open = Files.list(Path.of("/proc/self/fd")).count();
        assertTrue(open < 500, "file descriptors leak: " + open + " open");
        Files.delete(f);
        assertFalse(Files.exists(f));
    }
}
