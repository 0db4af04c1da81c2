package io.torchbridge.reader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.reader.internal.format.FileKind;
import io.torchbridge.reader.scan.Scan;
import io.torchbridge.testing.Repo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 10, item 7: every file kind is diagnosed by its content, and what the reader cannot read
 * is named with the next step. One sample per kind, made by real torch and numpy where they can
 * make it and by hand per the format's spec otherwise (fixtures/kinds/generate_kinds.py says which,
 * and fixtures/kinds/kinds.tsv lists each with the kind it is by construction).
 */
class FileKindTest {
    private static final Path KINDS = Repo.fixtures().resolve("kinds");
    private static final Path SAMPLES = KINDS.resolve("samples");

    @TempDir
    Path dir;

    @TestFactory
    Stream<DynamicTest> eachSampleIsDiagnosedAsItsKind() throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        for (String line : Files.readAllLines(KINDS.resolve("kinds.tsv"))) {
            String[] f = line.split("\t");
            Path sample = SAMPLES.resolve(f[0]);
            FileKind kind = byLabel(f[1]);
            tests.add(dynamicTest(f[0] + " is " + f[1] + " (" + f[2] + ")", () -> assertDiagnosed(sample, kind)));
        }
        assertTrue(tests.size() >= 20, "samples: " + tests.size());
        return tests.stream();
    }

    /**
     * The reader reads it (a kind it reads: a zip checkpoint, the legacy stream, the legacy tar, a
     * TorchScript archive, a safetensors file, a DCP directory or its .metadata, each as its Format of the same label) or names its kind with the next
     * step; the scan names the same kind.
     */
    private static void assertDiagnosed(Path sample, FileKind kind) throws IOException {
        assertEquals(kind.label(), Scan.scan(sample).format(), "scan's format");
        boolean dcpWhole = kind == FileKind.DCP && (Files.isDirectory(sample)
                || sample.getFileName().toString().equals(".metadata")); // a data file alone stays refused
        if (kind == FileKind.ZIP || kind == FileKind.LEGACY || kind == FileKind.TAR || kind == FileKind.TORCHSCRIPT
                || kind == FileKind.SAFETENSORS || dcpWhole || kind == FileKind.NPY || kind == FileKind.NPZ) {
            try (Checkpoint c = Checkpoint.open(sample)) {
                assertEquals(kind.label(), c.format().label());
            }
            return;
        }
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(sample).close());
        if (kind == FileKind.SHARD_INDEX) {
            // read as a sharded checkpoint (ShardsTest); a lone sample index names a shard that is not there
            assertEquals(Kind.IO, e.kind(), e.getMessage());
            assertTrue(e.record().orElseThrow().contains("-00001-of-00001."), e.getMessage());
            return;
        }
        assertTrue(e.detail().startsWith("this is " + kind.description()), e.getMessage());
        assertEquals(kind == FileKind.EMPTY ? Kind.TRUNCATED
                : kind == FileKind.UNKNOWN || kind == FileKind.PICKLE ? Kind.MALFORMED : Kind.UNSUPPORTED,
                e.kind(), e.getMessage());
        if (kind != FileKind.UNKNOWN) {
            assertFalse(e.getMessage().contains("not a PyTorch checkpoint or"), e.getMessage());
        }
    }

    @Test
    void eachLegacyProtocolIsReadAndProtocolZeroNamed() throws IOException {
        for (int protocol = 1; protocol <= 5; protocol++) {
            Path f = SAMPLES.resolve("legacy_protocol" + protocol + ".pt");
            try (Checkpoint c = Checkpoint.open(f)) {
                assertEquals(io.torchbridge.reader.Format.LEGACY, c.format(), f.toString());
            }
        }
        // protocol 0 (torch.save takes it too, torch cannot load it back): the same magic number as
        // LONG text, then INT text; named as the legacy stream and refused
        Path p0 = Files.write(dir.resolve("p0.pt"), "L119547037146038801333356L\n.I1001\n.".getBytes());
        assertThrows(CheckpointException.class, () -> Checkpoint.open(p0).close());
        assertEquals("legacy", Scan.scan(p0).format());
    }

    @Test
    void aDirectoryIsNamedWithTheCheckpointsInIt() throws IOException {
        Files.write(dir.resolve("model.pt"), new byte[0]);
        Files.write(dir.resolve("readme.md"), new byte[0]);
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(dir).close());
        assertEquals(Kind.UNSUPPORTED, e.kind());
        assertEquals("this is a directory (it holds model.pt); name a checkpoint file in it", e.getMessage());
    }

    @Test
    void aFewBytesAreUnknownAndSaySo() throws IOException {
        for (int n = 1; n <= 3; n++) {
            Path f = Files.write(dir.resolve(n + ".pt"), Arrays.copyOf(new byte[] {'P', 'K', 3}, n));
            CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(f).close());
            assertEquals(Kind.MALFORMED, e.kind());
            assertTrue(e.getMessage().contains("and has only " + n + " bytes"), e.getMessage());
        }
    }

    /** A Keras file with a 512-byte user block: HDF5 puts its signature at 512 then (HDF5 spec, "Format Signature"). */
    @Test
    void hdf5IsFoundAfterAUserBlock() throws IOException {
        byte[] b = new byte[1024];
        System.arraycopy(new byte[] {(byte) 0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'}, 0, b, 512, 8);
        Path f = Files.write(dir.resolve("userblock.h5"), b);
        assertTrue(assertThrows(CheckpointException.class, () -> Checkpoint.open(f).close()).getMessage()
                .startsWith("this is an HDF5 file"));
    }

    /** A safetensors file cut off inside its header is named and said to be cut off; a length of 2^40 or more is no header. */
    @Test
    void aSafetensorsHeaderPastTheEndIsACutOffSafetensorsFile() throws IOException {
        byte[] b = Files.readAllBytes(SAMPLES.resolve("model.safetensors"));
        b[0] = (byte) 0xF0; // the length grows past the 72-byte file: a download cut off inside the header
        Path f = Files.write(dir.resolve("bad.safetensors"), b);
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(f).close());
        assertEquals(Kind.TRUNCATED, e.kind());
        assertTrue(e.getMessage().contains("the header length is ") && e.getMessage().contains(" follow the length"),
                e.getMessage());
        // a length at or above 2^40 is no safetensors header: the file is not taken for one
        b[5] = 1;
        Path g = Files.write(dir.resolve("random.bin"), b);
        CheckpointException r = assertThrows(CheckpointException.class, () -> Checkpoint.open(g).close());
        assertTrue(r.getMessage().contains("not a PyTorch checkpoint or any file kind"), r.getMessage());
    }

    /** Two torch.save archives one after another, with no DCP name or .metadata beside: still named after DCP. */
    @Test
    void archivesOneAfterAnotherAreNamedAsDcpWritesThem() throws IOException {
        byte[] one = Files.readAllBytes(SAMPLES.resolve("checkpoint.pt"));
        byte[] other = Files.readAllBytes(SAMPLES.resolve("meta.pt"));
        byte[] two = Arrays.copyOf(one, one.length + other.length);
        System.arraycopy(other, 0, two, one.length, other.length);
        Path f = Files.write(dir.resolve("twice.pt"), two);
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(f).close());
        assertEquals(Kind.UNSUPPORTED, e.kind());
        assertTrue(e.getMessage().contains("(zip archives one after another, as DCP writes its .distcp data files)"),
                e.getMessage());
    }

    /** A damaged checkpoint keeps the zip reader's own error: the diagnosis does not guess another kind. */
    @Test
    void aCutOffCheckpointIsStillACutOffCheckpoint() throws IOException {
        byte[] one = Files.readAllBytes(SAMPLES.resolve("checkpoint.pt"));
        Path f = Files.write(dir.resolve("cut.pt"), Arrays.copyOf(one, one.length / 2));
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(f).close());
        assertFalse(e.getMessage().contains("this is"), e.getMessage());
        assertTrue(e.kind() == Kind.MALFORMED || e.kind() == Kind.TRUNCATED, e.getMessage());
    }

    private static FileKind byLabel(String label) {
        for (FileKind k : FileKind.values()) {
            if (k.label().equals(label)) {
                return k;
            }
        }
        throw new IllegalArgumentException("no kind " + label);
    }
}
