package io.torchbridge.reader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.testing.Crafted;
import io.torchbridge.testing.P;
import io.torchbridge.testing.Repo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 10, item 6: every tensor-like object in a file is listed or named, never dropped. Each
 * case here used to be dropped silently: the second tensor of a name that two paths produce, a
 * tensor rebuilt by a function the reader does not read, and a {@code .distcp} file (read as one
 * tensor with an empty name). The files come from torch 2.14 (fixtures/kinds/generate_kinds.py),
 * the expected values from torch's own load (fixtures/kinds/dropped.tsv).
 */
class NothingDroppedTest {
    private static final Path SAMPLES = Repo.fixtures().resolve("kinds/samples");

    @TempDir
    Path dir;

    /** torch.save({'x.y': {'z': a}, 'x': {'y.z': b}}): both tensors are named x.y.z. */
    @Test
    void aNameTwoPathsProduceIsListedTwiceAndEachIsReachableByItsKeys() throws Exception {
        List<String[]> expected = new ArrayList<>();
        for (String line : Files.readAllLines(Repo.fixtures().resolve("kinds/dropped.tsv"))) {
            String[] f = line.split("\t");
            if (f[0].equals("collision.pt")) {
                expected.add(f);
            }
        }
        assertEquals(2, expected.size());
        try (Checkpoint c = Checkpoint.open(SAMPLES.resolve("collision.pt"))) {
            assertEquals(List.of("x.y.z", "x.y.z"), c.names());
            List<TensorEntry> entries = c.entries();
            assertEquals(2, entries.size());
            for (int i = 0; i < 2; i++) {
                String[] e = expected.get(i);
                assertEquals(e[1], entries.get(i).name());
                assertEquals(e[4], sha256(entries.get(i).tensor()), "entry " + i + " in torch's order");
                assertEquals(e[4], sha256(c.tensorAt(e[2], e[3])), "tensorAt" + List.of(e[2], e[3]));
            }
            assertEquals(List.of(List.of("x.y", "z"), List.of("x", "y.z")), c.paths("x.y.z"));
            assertEquals(Set.of("x.y.z"), c.ambiguousNames());
            IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> c.tensor("x.y.z"));
            assertTrue(ex.getMessage().contains("2 paths produce it, ['x.y']['z'] and ['x']['y.z']"), ex.getMessage());
            assertTrue(ex.getMessage().contains("tensorAt(\"x.y\", \"z\") or tensorAt(\"x\", \"y.z\")"),
                    ex.getMessage());
            // tensors() keeps one tensor per name, the first, as documented
            assertEquals(1, c.tensors().size());
            assertSame(entries.get(0).tensor(), c.tensors().get("x.y.z"));
        }
    }

    /** One tensor reached by two paths that give the same name: listed twice, and asking for it is not ambiguous. */
    @Test
    void oneTensorUnderACollidingNameIsListedTwiceButNotAmbiguous() throws IOException {
        // {'x.y': {'z': t}, 'x': {'y.z': t}}: the tensor is memoized (BINPUT 0) and fetched again (BINGET 0)
        byte[] pkl = P.proto(2).emptyDict().mark()
                .str("x.y").emptyDict().str("z")
                .tensorV2("FloatStorage", "0", 2, 0, new long[] {2}, new long[] {1}).op('q').raw(0).op('s')
                .str("x").emptyDict().str("y.z").op('h').raw(0).op('s')
                .setitems().stop().bytes();
        Path f = Crafted.checkpoint(pkl).storage("0", new byte[8]).write(dir, "shared.pt");
        try (Checkpoint c = Checkpoint.open(f)) {
            assertEquals(List.of("x.y.z", "x.y.z"), c.names());
            assertSame(c.entries().get(0).tensor(), c.entries().get(1).tensor());
            assertEquals(Set.of(), c.ambiguousNames());
            assertSame(c.entries().get(0).tensor(), c.tensor("x.y.z"));
        }
    }

    /** A plain value under the same name as a tensor is no second tensor: one entry, one path, nothing ambiguous. */
    @Test
    void aPlainValueUnderATensorsNameDoesNotCollide() throws IOException {
        // {'x.y': {'z': t}, 'x': {'y.z': 5}}
        byte[] pkl = P.proto(2).emptyDict().mark()
                .str("x.y").emptyDict().str("z")
                .tensorV2("FloatStorage", "0", 2, 0, new long[] {2}, new long[] {1}).op('s')
                .str("x").emptyDict().str("y.z").integer(5).op('s')
                .setitems().stop().bytes();
        Path f = Crafted.checkpoint(pkl).storage("0", new byte[8]).write(dir, "plain.pt");
        try (Checkpoint c = Checkpoint.open(f)) {
            assertEquals(List.of("x.y.z"), c.names());
            assertEquals(List.of(List.of("x.y", "z")), c.paths("x.y.z"));
            assertEquals(5L, c.valueAt("x", "y.z"));
            assertSame(c.tensor("x.y.z"), c.tensorAt("x.y", "z"));
            assertThrows(NoSuchElementException.class, () -> c.tensorAt("x", "y.z"));
        }
    }

    /** torch.save({'w': ones(2), 'm': empty(3, device='meta')}): the meta tensor is named, with why it is not read. */
    @Test
    void aTensorRebuiltByAFunctionTheReaderDoesNotReadIsNamed() throws IOException {
        try (Checkpoint c = Checkpoint.open(SAMPLES.resolve("meta.pt"))) {
            assertEquals(List.of("w"), c.names());
            assertEquals(1, c.unreadable().size());
            UnreadableTensor m = c.unreadable().get(0);
            assertEquals("m", m.name());
            assertEquals("torch._utils._rebuild_meta_tensor_no_storage", m.rebuild());
            assertTrue(m.reason().startsWith("a meta tensor (it has no data)"), m.reason());
            NoSuchElementException e = assertThrows(NoSuchElementException.class, () -> c.tensor("m"));
            assertTrue(e.getMessage().contains("cannot be read: a meta tensor"), e.getMessage());
            assertInstanceOf(PyObject.class, c.value("m"));
        }
    }

    /** A rebuild nobody knows, admitted inertly: named as unreadable; without admission it is refused, never skipped. */
    @Test
    void anUnknownRebuildIsNamedWhenAdmittedAndRefusedOtherwise() throws IOException {
        byte[] pkl = P.proto(2).emptyDict().mark()
                .str("fine").tensorV2("FloatStorage", "0", 1, 0, new long[] {1}, new long[] {1})
                .str("odd").global("torch._utils", "_rebuild_from_the_future").mark().integer(7).tuple().reduce()
                .setitems().stop().bytes();
        Path f = Crafted.checkpoint(pkl).storage("0", new byte[4]).write(dir, "future.pt");
        try (Checkpoint c = Checkpoint.open(f, ReadOptions.builder().inert(true).build())) {
            assertEquals(List.of("fine"), c.names());
            assertEquals(List.of(new UnreadableTensor("odd", "torch._utils._rebuild_from_the_future",
                    "a tensor, rebuilt by torch._utils._rebuild_from_the_future, which this version does not read")),
                    c.unreadable());
        }
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(f).close());
        assertEquals(Kind.DISALLOWED_GLOBAL, e.kind());
    }

    /** Both DCP data files torch 2.14 wrote: several archives, and one archive of a single tensor. */
    @Test
    void aDistcpFileIsDiagnosedNotReadAsOneUnnamedTensor() {
        for (String name : List.of("dcp/__0_0.distcp", "dcp_one/__0_0.distcp")) {
            CheckpointException e = assertThrows(CheckpointException.class,
                    () -> Checkpoint.open(SAMPLES.resolve(name)).close(), name);
            assertEquals(Kind.UNSUPPORTED, e.kind(), name);
            assertTrue(e.getMessage().startsWith("this is part of a torch.distributed.checkpoint (DCP)"), e.getMessage());
            // the checkpoint is the directory, which opens: the message names it
            assertTrue(e.getMessage().contains("open its directory " + SAMPLES.resolve(name).toAbsolutePath().getParent()),
                    e.getMessage());
        }
    }

    static String sha256(Tensor t) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        t.stream(md::update);
        return HexFormat.of().formatHex(md.digest());
    }
}
