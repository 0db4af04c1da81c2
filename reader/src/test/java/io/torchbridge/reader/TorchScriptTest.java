package io.torchbridge.reader;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.testing.Crafted;
import io.torchbridge.testing.P;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TorchScript archives built by hand to torch's layout (torch/csrc/jit/serialization: the pickler's
 * module objects, python_print's class declarations): what is read, and the clean refusal of each
 * way such an archive can lie. Real archives from torch are compared with torch in compat-tests
 * (TorchScriptFixtureTest).
 */
class TorchScriptTest {
    @TempDir
    Path dir;

    private static final int NEWOBJ = 0x81;
    private static final int NEWFALSE = 0x89;

    /** A module class as python_print writes it: a parameter 'weight', a buffer 'steps'. */
    private static final String M = """
            class M(Module):
              __parameters__ = ["weight", ]
              __buffers__ = ["steps", ]
              weight : Tensor
              steps : Tensor
              training : bool
              eps : Final[float] = 1.0000000000000001e-05
              def forward(self: __torch__.M,
                x: Tensor) -> Tensor:
                weight = self.weight
                return torch.mul(x, weight)
            """;

    /** {@code __torch__.M} with 'steps' before 'weight' in the dict (torch orders slots by the code). */
    private static P moduleM(P p) {
        p.global("__torch__", "M").emptyTuple().op(NEWOBJ).emptyDict().mark();
        p.str("steps").tensorV2("LongStorage", "1", 1, 0, new long[0], new long[0]);
        p.str("training").op(NEWFALSE);
        p.str("weight").tensorV2("FloatStorage", "0", 2, 0, new long[] {2}, new long[] {1});
        return p.setitems().op('b');
    }

    private static byte[] floats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putFloat(f);
        }
        return b.array();
    }

    private static byte[] text(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** The records of a TorchScript archive: data.pkl, code/__torch__.py, constants.pkl, storages. */
    private static Map<String, byte[]> records(byte[] pickle, String code) {
        Map<String, byte[]> r = new LinkedHashMap<>();
        r.put("data.pkl", pickle);
        if (code != null) {
            r.put("code/__torch__.py", text(code));
        }
        r.put("constants.pkl", P.proto(2).emptyTuple().stop().bytes());
        r.put("data/0", floats(1.5f, -2f));
        r.put("data/1", new byte[] {7, 0, 0, 0, 0, 0, 0, 0});
        r.put("version", text("3\n"));
        return r;
    }

    private Path write(Map<String, byte[]> records) throws IOException {
        return Files.write(dir.resolve("m" + System.nanoTime() + ".pt"), Crafted.zip("m", records));
    }

    private Path archive(String code) throws IOException {
        return write(records(moduleM(P.proto(2)).stop().bytes(), code));
    }

    private CheckpointException refuse(Path file) {
        return refuse(file, ReadOptions.defaults());
    }

    private CheckpointException refuse(Path file, ReadOptions options) {
        return assertThrows(CheckpointException.class, () -> Checkpoint.open(file, options).close());
    }

    @Test
    void aModuleListsItsParametersThenItsBuffersInTheCodesSlotOrder() throws IOException {
        try (Checkpoint c = Checkpoint.open(archive(M))) {
            assertEquals(Format.TORCHSCRIPT, c.format());
            assertEquals(List.of("weight", "steps"), c.names());
            assertArrayEquals(new float[] {1.5f, -2f}, c.tensor("weight").toFloatArray());
            assertArrayEquals(new long[] {7}, c.tensor("steps").toLongArray());
            assertEquals(Boolean.FALSE, c.value("training"));
            PyObject root = (PyObject) c.root();
            assertEquals("__torch__.M", root.callable().fullName());
        }
    }

    @Test
    void otherClassesInTheSameFileAreNoObstacle() throws IOException {
        // python_print writes an Enum as `NAME = value` lines and a TorchScript class without a base
        String code = M + """
                class Color(Enum):
                  RED = 1
                  GREEN = 2
                class Box:
                  t : Tensor
                  def __init__(self: __torch__.Box,
                    t: Tensor) -> NoneType:
                    self.t = t
                    return None
                """;
        try (Checkpoint c = Checkpoint.open(archive(code))) {
            assertEquals(List.of("weight", "steps"), c.names());
        }
    }

    @Test
    void submodulesFollowTheModulesOwnTensorsAndSkipANoneParameter() throws IOException {
        String code = M + """
                class Top(Module):
                  __parameters__ = ["bias", ]
                  __buffers__ = []
                  sub : __torch__.M
                  bias : NoneType
                  __annotations__["0"] = __torch__.M
                """;
        P p = P.proto(2).global("__torch__", "Top").emptyTuple().op(NEWOBJ).emptyDict().mark();
        p.str("sub");
        moduleM(p);
        p.str("bias").none().str("0");
        moduleM(p);
        byte[] pickle = p.setitems().op('b').stop().bytes();
        try (Checkpoint c = Checkpoint.open(write(records(pickle, code)))) {
            assertEquals(List.of("sub.weight", "sub.steps", "0.weight", "0.steps"), c.names());
        }
    }

    @Test
    void torchScriptClassesAreRefusedInATorchSaveCheckpoint() {
        // The same pickle, but no constants.pkl: a torch.save file, whose loader admits no __torch__ class.
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> Crafted.root(dir, moduleM(P.proto(2)).stop().bytes()));
        assertEquals(Kind.DISALLOWED_GLOBAL, e.kind());
        assertTrue(e.getMessage().contains("__torch__.M"), e.getMessage());
    }

    @Test
    void aMissingStorageRecordIsRefused() throws IOException {
        Map<String, byte[]> r = records(moduleM(P.proto(2)).stop().bytes(), M);
        r.remove("data/0");
        CheckpointException e = refuse(write(r));
        assertEquals(Kind.MALFORMED, e.kind());
        assertTrue(e.getMessage().contains("no record data/0"), e.getMessage());
    }

    @Test
    void missingCodeMeansNoModule() throws IOException {
        CheckpointException e = refuse(archive(null));
        assertEquals(Kind.MALFORMED, e.kind());
        assertTrue(e.getMessage().contains("not a scripted module"), e.getMessage());
    }

    @Test
    void aRootThatIsNoObjectIsRefused() throws IOException {
        CheckpointException e = refuse(write(records(P.proto(2).emptyDict().stop().bytes(), M)));
        assertEquals(Kind.MALFORMED, e.kind());
        assertTrue(e.getMessage().contains("not a scripted module"), e.getMessage());
    }

    @Test
    void codeDeclaringAParameterTheObjectLacksIsRefused() throws IOException {
        CheckpointException e = refuse(archive(M.replace("__parameters__ = [\"weight\", ]",
                "__parameters__ = [\"weight\", \"ghost\", ]").replace("  steps : Tensor\n",
                "  steps : Tensor\n  ghost : Tensor\n")));
        assertEquals(Kind.MALFORMED, e.kind());
        assertTrue(e.getMessage().contains("declares attribute 'ghost' but the pickled object has none"),
                e.getMessage());
    }

    @Test
    void aParameterListedButNotDeclaredIsRefused() throws IOException {
        CheckpointException e = refuse(archive(M.replace("__parameters__ = [\"weight\", ]",
                "__parameters__ = [\"weight\", \"ghost\", ]")));
        assertEquals(Kind.MALFORMED, e.kind());
        assertTrue(e.getMessage().contains("lists 'ghost' as a parameter or buffer but declares no such attribute"),
                e.getMessage());
        assertEquals("code/__torch__.py", e.record().orElseThrow());
    }

    private void malformedDeclaration(String code, String expected) throws IOException {
        CheckpointException e = refuse(archive(code));
        assertEquals(Kind.MALFORMED, e.kind(), e.getMessage());
        assertEquals("code/__torch__.py", e.record().orElseThrow());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    @Test
    void malformedDeclarationsAreRefused() throws IOException {
        malformedDeclaration(M.replace("__parameters__ = [\"weight\", ]", "__parameters__ = \"weight\""),
                "__parameters__ is not a list literal");
        malformedDeclaration(M.replace("__parameters__ = [\"weight\", ]", "__parameters__ = [\"weight, ]"),
                "unterminated string literal");
        malformedDeclaration(M.replace("class M(Module):", "class M(Module)"), "class header does not end with ':'");
        malformedDeclaration(M.replace("weight : Tensor", "weight Tensor"), "cannot read the class body statement");
        malformedDeclaration(M.replace("  __buffers__ = [\"steps\", ]\n", ""),
                "lacks its __parameters__ or __buffers__ declaration");
        malformedDeclaration(M.replace("  __buffers__ = [\"steps\", ]\n",
                "  __buffers__ = [\"steps\", ]\n  __parameters__ = []\n"), "declares __parameters__ twice");
        malformedDeclaration(M.replace("  training : bool\n", "  training : bool\n  weight : Tensor\n"),
                "declares an attribute twice");
        malformedDeclaration(M.replace("\n  ", "\n    ").replace("    training : bool", "  training : bool"),
                "indented less than the class body");
    }

    @Test
    void aModuleThatRunsSetstateIsNotGuessed() throws IOException {
        CheckpointException e = refuse(archive(M + "  def __setstate__(self: __torch__.M,\n"
                + "    state: Tuple[Tensor, Tensor]) -> None:\n    return None\n"));
        assertEquals(Kind.UNSUPPORTED, e.kind());
        assertTrue(e.getMessage().contains("__setstate__"), e.getMessage());
    }

    @Test
    void aModuleWithoutAnAttributeDictIsRefused() throws IOException {
        byte[] pickle = P.proto(2).global("__torch__", "M").emptyTuple().op(NEWOBJ).op(']').op('b').stop().bytes();
        CheckpointException e = refuse(write(records(pickle, M)));
        assertEquals(Kind.MALFORMED, e.kind());
        assertTrue(e.getMessage().contains("has no attribute dict"), e.getMessage());
    }

    /** {@code class L(Module)} with one submodule attribute 'next' (and 'other'). */
    private static final String CHAIN = """
            class L(Module):
              __parameters__ = []
              __buffers__ = []
              next : __torch__.L
              other : __torch__.L
            """;

    @Test
    void aModuleContainingItselfIsRefused() throws IOException {
        // L(); BINPUT 0; {'next': L (BINGET 0), 'other': None}; BUILD
        byte[] pickle = P.proto(2).global("__torch__", "L").emptyTuple().op(NEWOBJ).op('q').raw(0)
                .emptyDict().mark().str("next").op('h').raw(0).str("other").none().setitems().op('b').stop().bytes();
        CheckpointException e = refuse(write(records(pickle, CHAIN)));
        assertEquals(Kind.MALFORMED, e.kind());
        assertTrue(e.getMessage().contains("contains itself"), e.getMessage());
    }

    /** {@code depth} modules L, each the 'next' of the one before (and its 'other' too when shared). */
    private static byte[] chain(int depth, boolean shared) {
        P p = P.proto(2);
        // innermost first: each level is built from the one below, kept in memo slot i
        for (int i = 0; i < depth; i++) {
            p.global("__torch__", "L").emptyTuple().op(NEWOBJ).emptyDict().mark();
            if (i == 0) {
                p.str("next").none().str("other").none();
            } else {
                p.str("next").op('h').raw(i - 1).str("other");
                if (shared) {
                    p.op('h').raw(i - 1);
                } else {
                    p.none();
                }
            }
            p.setitems().op('b').op('q').raw(i);
            if (i < depth - 1) {
                p.op('0'); // POP: the next level takes it from the memo
            }
        }
        return p.stop().bytes();
    }

    @Test
    void modulesNestedTooDeeplyAreRefused() throws IOException {
        Path f = write(records(chain(6, false), CHAIN));
        try (Checkpoint c = Checkpoint.open(f)) {
            assertEquals(List.of(), c.names());
        }
        CheckpointException e = refuse(f, ReadOptions.builder().maxNesting(3).build());
        assertEquals(Kind.LIMIT_EXCEEDED, e.kind());
        assertTrue(e.getMessage().contains("modules nest deeper than 3"), e.getMessage());
    }

    @Test
    void modulesSharedOverAndOverAreRefused() throws IOException {
        // 2^12 paths to the innermost module through 12 objects
        CheckpointException e = refuse(write(records(chain(12, true), CHAIN)),
                ReadOptions.builder().maxTreeNodes(1000).build());
        assertEquals(Kind.LIMIT_EXCEEDED, e.kind());
        assertTrue(e.getMessage().contains("module tree expands"), e.getMessage());
    }
}
