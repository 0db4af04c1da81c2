package io.torchbridge.reader;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.testing.Crafted;
import io.torchbridge.testing.P;
import java.math.BigInteger;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One test per opcode (CPython's Lib/pickletools.py), the disassembly beside the bytes, read
 * through the public API so each checks the Java value a user gets.
 */
class OpcodeTest {
    @TempDir
    Path dir;

    private Object read(P p) throws Exception {
        return Crafted.root(dir, p.stop().bytes());
    }

    @Test
    void intOpcodesGiveLongs() throws Exception {
        // K 7 (BININT1), M 0x1234 (BININT2), J -5 (BININT), as a tuple
        Object v = read(P.proto(2).mark().op('K').raw(7).op('M').le(0x1234, 2).op('J').le(-5, 4).tuple());
        assertEquals(PyTuple.of(7L, 0x1234L, -5L), v);
    }

    @Test
    void long1BeyondSixtyFourBitsGivesBigInteger() throws Exception {
        // LONG1 of 2**70 and -(2**65): Python ints have no size limit.
        BigInteger big = BigInteger.TWO.pow(70);
        BigInteger neg = BigInteger.TWO.pow(65).negate();
        Object v = read(P.proto(2).mark().long1(big).long1(neg).long1(BigInteger.valueOf(-1)).tuple());
        assertEquals(PyTuple.of(big, neg, -1L), v);
    }

    @Test
    void long4() throws Exception {
        // LONG4: i32 length 2, bytes ff 7f -> 32767
        assertEquals(32767L, read(P.proto(2).op(0x8b).le(2, 4).raw(0xff, 0x7f)));
    }

    @Test
    void textIntLongAndFloat() throws Exception {
        // protocol 0: I42\n, I01\n (True), L12345678901234567890L\n, F-0.5\n, Fnan\n
        Object v = read(P.raw().mark().op('I').line("42").op('I').line("01")
                .op('L').line("12345678901234567890L").op('F').line("-0.5").op('F').line("nan").tuple());
        PyTuple t = assertInstanceOf(PyTuple.class, v);
        assertEquals(42L, t.get(0));
        assertEquals(Boolean.TRUE, t.get(1));
        assertEquals(new BigInteger("12345678901234567890"), t.get(2));
        assertEquals(-0.5, t.get(3));
        assertEquals(Double.NaN, t.get(4));
    }

    @Test
    void binfloatIsBigEndian() throws Exception {
        // G 3f f8 00 00 00 00 00 00 = 1.5
        assertEquals(1.5, read(P.proto(2).op('G').raw(0x3f, 0xf8, 0, 0, 0, 0, 0, 0)));
    }

    @Test
    void noneTrueFalse() throws Exception {
        // N, \x88 NEWTRUE, \x89 NEWFALSE
        assertEquals(java.util.Arrays.asList(null, true, false),
                ((PyTuple) read(P.proto(2).mark().none().op(0x88).op(0x89).tuple())).items());
    }

    @Test
    void unicodeOpcodes() throws Exception {
        // X (BINUNICODE), \x8c (SHORT_BINUNICODE), \x8d (BINUNICODE8)
        byte[] e = "é✓".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        Object v = read(P.proto(4).mark().str("résumé ✓").op(0x8c).raw(e.length).raw(e)
                .op(0x8d).le(e.length, 8).raw(e).tuple());
        assertEquals(PyTuple.of("résumé ✓", "é✓", "é✓"), v);
    }

    @Test
    void loneSurrogatesSurviveAsCpythonWritesThem() throws Exception {
        // X 03000000 ed a0 80: '\ud800' encoded with 'surrogatepass'
        assertEquals("\ud800", read(P.proto(2).op('X').le(3, 4).raw(0xed, 0xa0, 0x80)));
    }

    @Test
    void python2StringOpcodesDecodeAsUtf8() throws Exception {
        // T (BINSTRING) i32 len, U (SHORT_BINSTRING) u8 len: torch.load passes encoding='utf-8'
        Object v = read(P.proto(2).mark().op('T').le(2, 4).raw('h', 'i').op('U').raw(2).raw(0xc3, 0xa9).tuple());
        assertEquals(PyTuple.of("hi", "é"), v);
    }

    @Test
    void bytesOpcodes() throws Exception {
        // B (BINBYTES) u32, C (SHORT_BINBYTES) u8, \x8e (BINBYTES8), \x96 (BYTEARRAY8)
        PyTuple t = (PyTuple) read(P.proto(5).mark().op('B').le(2, 4).raw(1, 2).op('C').raw(1).raw(255)
                .op(0x8e).le(1, 8).raw(7).op(0x96).le(0, 8).tuple());
        assertArrayEquals(new byte[] {1, 2}, (byte[]) t.get(0));
        assertArrayEquals(new byte[] {(byte) 255}, (byte[]) t.get(1));
        assertArrayEquals(new byte[] {7}, (byte[]) t.get(2));
        assertArrayEquals(new byte[0], (byte[]) t.get(3));
    }

    @Test
    void protocol2BytesThroughCodecsEncode() throws Exception {
        // c _codecs\nencode\n ( X '\xff\x00' X 'latin1' t R : how protocol 2 writes b'\xff\x00'
        Object v = read(P.proto(2).global("_codecs", "encode").mark().str("\u00ff\u0000").str("latin1").tuple().reduce());
        assertArrayEquals(new byte[] {(byte) 0xff, 0}, (byte[]) v);
    }

    @Test
    void tupleOpcodes() throws Exception {
        // ) EMPTY_TUPLE, \x85 TUPLE1, \x86 TUPLE2, \x87 TUPLE3, ( ... t TUPLE
        PyTuple t = (PyTuple) read(P.proto(2).mark().emptyTuple().op('K').raw(1).op(0x85)
                .op('K').raw(1).op('K').raw(2).op(0x86).op('K').raw(1).op('K').raw(2).op('K').raw(3).op(0x87).tuple());
        assertEquals(PyTuple.of(PyTuple.of(), PyTuple.of(1L), PyTuple.of(1L, 2L), PyTuple.of(1L, 2L, 3L)), t);
    }

    @Test
    void listOpcodes() throws Exception {
        // ] EMPTY_LIST, a APPEND, ( ... e APPENDS, ( ... l LIST
        Object v = read(P.proto(2).mark().op(']').op('K').raw(1).op('a').mark().op('K').raw(2).op('K').raw(3).op('e')
                .mark().op('K').raw(4).op('l').tuple());
        assertEquals(PyTuple.of(List.of(1L, 2L, 3L), List.of(4L)), v);
    }

    @Test
    void dictOpcodesKeepInsertionOrder() throws Exception {
        // } EMPTY_DICT, s SETITEM, ( k v k v u SETITEMS, ( k v d DICT; keys chosen so hashing would reorder
        P p = P.proto(2).mark().emptyDict().str("z").op('K').raw(1).op('s')
                .mark().str("a").op('K').raw(2).str("m").op('K').raw(3).setitems()
                .mark().op('K').raw(9).str("nine").op('K').raw(0).str("zero").op('d').tuple();
        PyTuple t = (PyTuple) read(p);
        PyDict d = (PyDict) t.get(0);
        assertEquals(List.of("z", "a", "m"), List.copyOf(d.items().keySet()));
        assertEquals(PyDict.DICT, d.pythonClass());
        assertEquals(List.of(9L, 0L), List.copyOf(((PyDict) t.get(1)).items().keySet()));
    }

    @Test
    void tupleKeysAndNoneValues() throws Exception {
        // } ( (K1 K2 t) N u : {(1, 2): None}
        PyDict d = (PyDict) read(P.proto(2).emptyDict().mark().mark().op('K').raw(1).op('K').raw(2).tuple().none().setitems());
        assertNull(d.get(PyTuple.of(1L, 2L)));
        assertEquals(Set.of(PyTuple.of(1L, 2L)), d.items().keySet());
    }

    @Test
    void setOpcodes() throws Exception {
        // \x8f EMPTY_SET ( K1 K2 \x90 ADDITEMS ; ( K3 \x91 FROZENSET
        PyTuple t = (PyTuple) read(P.proto(4).mark().op(0x8f).mark().op('K').raw(1).op('K').raw(2).op(0x90)
                .mark().op('K').raw(3).op(0x91).tuple());
        assertEquals(Set.of(1L, 2L), t.get(0));
        assertEquals(Set.of(3L), t.get(1));
    }

    @Test
    @SuppressWarnings("unchecked")
    void frozensetComesBackAsTheSameUnmodifiableSetAsASet() throws Exception {
        // ( \x8f EMPTY_SET ( K2 K1 \x90 ADDITEMS ; ( K2 K1 \x91 FROZENSET ; t
        // RawSet keeps no frozen flag: Python compares set and frozenset equal, so both are one Java value.
        PyTuple t = (PyTuple) read(P.proto(4).mark().op(0x8f).mark().op('K').raw(2).op('K').raw(1).op(0x90)
                .mark().op('K').raw(2).op('K').raw(1).op(0x91).tuple());
        Set<?> set = assertInstanceOf(Set.class, t.get(0));
        Set<?> frozen = assertInstanceOf(Set.class, t.get(1));
        assertEquals(set, frozen);
        assertEquals(set.getClass(), frozen.getClass());
        assertEquals(List.of(2L, 1L), List.copyOf(frozen), "insertion order kept");
        assertThrows(UnsupportedOperationException.class, () -> ((Set<Object>) frozen).add(3L));
        assertThrows(UnsupportedOperationException.class, () -> ((Set<Object>) set).add(3L));
    }

    @Test
    void builtinsSetAndComplex() throws Exception {
        // c builtins set ( ] (K1 K2 e) t R ; c __builtin__ complex ( G1.5 G-2 t R
        PyTuple t = (PyTuple) read(P.proto(2).mark().global("builtins", "set").mark().op(']').mark()
                .op('K').raw(1).op('K').raw(2).op('e').tuple().reduce()
                .global("__builtin__", "complex").mark().flt(1.5).flt(-2).tuple().reduce().tuple());
        assertEquals(Set.of(1L, 2L), t.get(0));
        assertEquals(new PyComplex(1.5, -2), t.get(1));
    }

    @Test
    void memoOpcodesShareOneObject() throws Exception {
        // ] q00 BINPUT 0, h00 BINGET 0, r LONG_BINPUT 1, j LONG_BINGET 1, \x94 MEMOIZE (index 2), p/g text PUT/GET
        P p = P.proto(4).mark().op(']').op('q').raw(0).op('h').raw(0)
                .op('}').op('r').le(1, 4).op('j').le(1, 4)
                .op(')').op(0x94).op('h').raw(2)
                .op('K').raw(5).op('p').line("7").op('g').line("7").tuple();
        PyTuple t = (PyTuple) read(p);
        assertSame(t.get(0), t.get(1));
        assertSame(t.get(2), t.get(3));
        assertEquals(t.get(4), t.get(5));
        assertEquals(5L, t.get(7));
    }

    @Test
    void memoEntriesNoGetReadsStillCountForMemoize() throws Exception {
        // ( N q00 BINPUT 0, K1 q00 BINPUT 0 again (no GET reads index 0: dropped, counted once),
        // ) \x94 MEMOIZE (index 1, the memo's length), h01 BINGET 1 -> ((), ())
        P p = P.proto(4).mark().op('N').op('q').raw(0).op('0').op('K').raw(1).op('q').raw(0).op('0')
                .op(')').op(0x94).op('h').raw(1).tuple();
        PyTuple t = (PyTuple) read(p);
        assertEquals(2, t.size());
        assertSame(t.get(0), t.get(1));
    }

    @Test
    void popDupPopMarkAndFrame() throws Exception {
        // \x95 FRAME of the 13 bytes that follow; K1 0 POP; K2 2 DUP; ( K9 1 POP_MARK; t -> (2, 2)
        Object v = read(P.proto(4).op(0x95).le(13, 8).mark().op('K').raw(1).op('0').op('K').raw(2).op('2')
                .mark().op('K').raw(9).op('1').tuple());
        assertEquals(PyTuple.of(2L, 2L), v);
    }

    @Test
    void stackGlobalIsCheckedLikeGlobal() throws Exception {
        // X 'torch' X 'float16' \x93 STACK_GLOBAL
        assertEquals(new PyGlobal("torch", "float16"), read(P.proto(4).str("torch").str("float16").op(0x93)));
    }

    @Test
    void orderedDictThroughReduceAndBuildKeepsMetadata() throws Exception {
        // c collections OrderedDict ) R ( X'w' K1 u } ( X'_metadata' } X'' }(X'version' K1 u) s u b BUILD
        P p = P.proto(2).global("collections", "OrderedDict").emptyTuple().reduce()
                .mark().str("w").op('K').raw(1).setitems()
                .emptyDict().mark().str("_metadata").global("collections", "OrderedDict").emptyTuple().reduce()
                .str("").emptyDict().mark().str("version").op('K').raw(1).setitems().op('s').setitems().op('b');
        PyDict d = (PyDict) read(p);
        assertEquals(PyDict.ORDERED_DICT, d.pythonClass());
        assertEquals(Map.of("w", 1L), d.items());
        PyDict meta = d.metadata().orElseThrow();
        assertEquals(1L, ((PyDict) meta.get("")).get("version"));
    }

    @Test
    void newobjOnOrderedDict() throws Exception {
        // c collections OrderedDict ) \x81 NEWOBJ
        PyDict d = (PyDict) read(P.proto(2).global("collections", "OrderedDict").emptyTuple().op(0x81));
        assertEquals(PyDict.ORDERED_DICT, d.pythonClass());
        assertEquals(0, d.size());
    }

    @Test
    void torchSizeIsATupleAndDtypesAreGlobals() throws Exception {
        // c torch Size ( (K2 K3 t) t R ; c torch bfloat16
        PyTuple t = (PyTuple) read(P.proto(2).mark().global("torch", "Size").mark().mark().op('K').raw(2).op('K').raw(3)
                .tuple().tuple().reduce().global("torch", "bfloat16").tuple());
        assertEquals(PyTuple.of(2L, 3L), t.get(0));
        assertEquals(new PyGlobal("torch", "bfloat16"), t.get(1));
    }

    @Test
    void admittedGlobalsBecomeInertObjects() throws Exception {
        // c mypkg Thing ( K1 t R, then } (X'a' K2 u) b BUILD: recorded, never constructed
        byte[] pickle = P.proto(2).global("mypkg", "Thing").mark().op('K').raw(1).tuple().reduce()
                .emptyDict().mark().str("a").op('K').raw(2).setitems().op('b').stop().bytes();
        Object v = Crafted.root(dir, pickle, ReadOptions.builder().allowGlobal("mypkg", "Thing").build());
        PyObject o = assertInstanceOf(PyObject.class, v);
        assertEquals(new PyGlobal("mypkg", "Thing"), o.callable());
        assertEquals(PyTuple.of(1L), o.args());
        assertEquals(Map.of("a", 2L), ((PyDict) o.state()).items());
    }

    // --- the opcodes Pyrolite's Unpickler used to decode, and their errors ----------------------

    private CheckpointException refuse(P p) {
        return org.junit.jupiter.api.Assertions.assertThrows(CheckpointException.class, () -> read(p));
    }

    @Test
    void stringIsAQuotedPython2LiteralDecodedAsUtf8() throws Exception {
        // S 'caf\xc3\xa9 \'q\' \\ \101 \d' : escapes as PyBytes_DecodeEscape, then UTF-8; \d stays
        assertEquals("café 'q' \\ A \\d", read(P.raw().op('S').line("'caf\\xc3\\xa9 \\'q\\' \\\\ \\101 \\d'")));
        // S "it's" : double quotes, as Python 2's repr writes a str holding a single quote
        assertEquals("it's", read(P.raw().op('S').line("\"it's\"")));
    }

    @Test
    void binunicodeKeepsARealReplacementCharacterAndRefusesBadUtf8() {
        // X 03000000 ef bf bd: U+FFFD itself, valid UTF-8; X 01000000 ff: not UTF-8 at all
        assertEquals("\ufffd", assertDoesNotThrow(() -> read(P.proto(2).op('X').le(3, 4).raw(0xef, 0xbf, 0xbd))));
        CheckpointException e = refuse(P.proto(2).op('X').le(1, 4).raw(0xff));
        assertEquals(CheckpointException.Kind.MALFORMED, e.kind());
        assertEquals(2, e.offset());
    }

    @Test
    void stringMustBeQuoted() {
        // S abc : CPython's "the STRING opcode argument must be quoted"
        CheckpointException e = refuse(P.raw().op('S').line("abc"));
        assertEquals(CheckpointException.Kind.MALFORMED, e.kind());
        assertEquals(0, e.offset());
    }

    @Test
    void unicodeIsRawUnicodeEscape() throws Exception {
        // V caf\xe9 \\u263a \\U0001f600 a\b : Latin-1 bytes, the \\u and \\U escapes, other backslashes kept
        P p = P.raw().op('V').raw('c', 'a', 'f', 0xe9).line(" \\u263a \\U0001f600 a\\b");
        assertEquals("café \u263a \ud83d\ude00 a\\b", read(p));
        // V a\ : a backslash at the end is itself, as CPython decodes it
        assertEquals("a\\", read(P.raw().op('V').line("a\\")));
    }

    @Test
    void unicodeWithATruncatedEscapeIsMalformed() {
        // V \\u26 : four hex digits needed
        assertEquals(CheckpointException.Kind.MALFORMED, refuse(P.raw().op('V').line("\\u26")).kind());
    }

    @Test
    void protoAboveFiveIsRefused() {
        // \x80 PROTO 6: no Python writes it
        CheckpointException e = refuse(P.proto(6).none());
        assertEquals(CheckpointException.Kind.MALFORMED, e.kind());
        assertEquals(0, e.offset());
        assertTrue(e.getMessage().contains("unsupported pickle protocol: 6"), e.getMessage());
    }

    @Test
    void protoFiveIsRead() throws Exception {
        // \x80 PROTO 5, N NONE
        assertNull(read(P.proto(5).none()));
    }

    @Test
    void getOfAnUnsetMemoIndexIsMalformed() {
        // \x80\x02 N h\x05 BINGET 5 at offset 3, with nothing put there
        CheckpointException e = refuse(P.proto(2).none().op('h').raw(5));
        assertEquals(CheckpointException.Kind.MALFORMED, e.kind());
        assertEquals(3, e.offset());
        assertTrue(e.getMessage().contains("memo index 5"), e.getMessage());
    }

    @Test
    void longBinputIndicesAreUnsigned() throws Exception {
        // K7 r ffffffff LONG_BINPUT 4294967295, 0 POP, j ffffffff LONG_BINGET 4294967295
        assertEquals(7L, read(P.proto(2).op('K').raw(7).op('r').le(0xFFFFFFFFL, 4).op('0').op('j').le(0xFFFFFFFFL, 4)));
    }

    @Test
    void textPutRefusesANegativeIndex() {
        // N p-1 : CPython's "negative PUT argument"
        assertEquals(CheckpointException.Kind.MALFORMED, refuse(P.raw().none().op('p').line("-1")).kind());
    }

    @Test
    void dupAndPutOfAMarkAreMalformed() {
        // ( 2 DUP and ( q\x00 BINPUT: a MARK is not a value
        CheckpointException dup = refuse(P.proto(2).mark().op('2'));
        assertTrue(dup.getMessage().contains("DUP found a MARK"), dup.getMessage());
        CheckpointException put = refuse(P.proto(2).mark().op('q').raw(0));
        assertTrue(put.getMessage().contains("BINPUT found a MARK"), put.getMessage());
    }

    @Test
    void popMarkWithoutAMarkIsMalformed() {
        // N 1 POP_MARK at offset 3
        CheckpointException e = refuse(P.proto(2).none().op('1'));
        assertEquals(CheckpointException.Kind.MALFORMED, e.kind());
        assertEquals(3, e.offset());
        assertTrue(e.getMessage().contains("without a MARK"), e.getMessage());
    }

    @Test
    void binfloatCutOffIsTruncated() {
        // G 3f f8 : BINFLOAT needs 8 bytes
        CheckpointException e = refuse(P.proto(2).op('G').raw(0x3f, 0xf8));
        assertEquals(CheckpointException.Kind.TRUNCATED, e.kind());
        assertEquals(2, e.offset());
    }

    @Test
    void python2ModuleNamesAreReadAsPython3Does() throws Exception {
        // c copy_reg\n_reconstructor\n ; c torch.tensor\n_rebuild_from_type_v2\n (files from before torch 1.8)
        Object v = Crafted.root(dir, P.proto(2).global("copy_reg", "_reconstructor").stop().bytes(),
                ReadOptions.builder().allowGlobal("copyreg", "_reconstructor").build());
        assertEquals(new PyGlobal("copyreg", "_reconstructor"), v);
        assertEquals(new PyGlobal("torch._tensor", "_rebuild_from_type_v2"),
                read(P.proto(2).global("torch.tensor", "_rebuild_from_type_v2")));
    }
}
