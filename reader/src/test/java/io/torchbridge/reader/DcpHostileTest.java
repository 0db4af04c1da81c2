package io.torchbridge.reader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.testing.Repo;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * Hostile DCP metadata (fixtures/dcp-hostile, made by make_hostile.py from torch's own metadata
 * of fixtures/dcp/two_ranks.dcp, one change each) beside the real data files: each is a clean
 * error of its kind, never a wrong tensor or a stray exception.
 */
class DcpHostileTest {
    @TempDir
    Path tmp;

    /** The hostile case's .metadata with two_ranks.dcp's data files beside it. */
    private Path hostile(String name) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve(name + ".dcp"));
        Path good = Repo.fixtures().resolve("dcp/two_ranks.dcp");
        Files.copy(good.resolve("__0_0.distcp"), dir.resolve("__0_0.distcp"));
        Files.copy(good.resolve("__1_0.distcp"), dir.resolve("__1_0.distcp"));
        Files.copy(Repo.fixtures().resolve("dcp-hostile").resolve(name).resolve(".metadata"), dir.resolve(".metadata"));
        return dir;
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({
        "global_outside_allowlist, DISALLOWED_GLOBAL, argparse.Namespace",
        "chunk_out_of_range, OUT_OF_RANGE, lies outside the tensor",
        "overlapping_chunks, MALFORMED, overlap",
        "chunk_missing, MALFORMED, in no chunk",
        "chunk_rank, MALFORMED, dimensions",
        "path_escape, MALFORMED, not a plain file name",
        "missing_distcp, MALFORMED, __7_0.distcp",
        "length_beyond_file, OUT_OF_RANGE, spans bytes",
        "transforms, UNSUPPORTED, zstd",
        "chunk_dtype_mismatch, MALFORMED, where the metadata declares",
        "chunk_without_storage, MALFORMED, no entry in storage_data",
        "bytes_without_storage, MALFORMED, bytes item 'step'",
        "list_index_huge, OUT_OF_RANGE, list index 1000000",
        "storage_key_twice, MALFORMED, twice",
        "root_not_metadata, MALFORMED, not a torch.distributed.checkpoint Metadata",
    })
    void refusedCleanly(String name, Kind kind, String says) throws Exception {
        Path dir = hostile(name);
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(dir));
        assertEquals(kind, e.kind(), e.getMessage());
        assertTrue(e.getMessage().contains(says), e.getMessage());
    }

    @Test
    void theGoodMetadataBesideTheSameFilesReads() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("good.dcp"));
        Path good = Repo.fixtures().resolve("dcp/two_ranks.dcp");
        for (String f : new String[] {".metadata", "__0_0.distcp", "__1_0.distcp"}) {
            Files.copy(good.resolve(f), dir.resolve(f));
        }
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertEquals(4, c.tensors().size());
        }
    }

    @Test
    void metadataOverThePickleLimitIsRefused() {
        Path dir = Repo.fixtures().resolve("dcp/two_ranks.dcp");
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> Checkpoint.open(dir, ReadOptions.builder().maxPickleBytes(1000).build()));
        assertEquals(Kind.LIMIT_EXCEEDED, e.kind(), e.getMessage());
    }

    @Test
    void aTruncatedDataFileIsRefused() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("cut.dcp"));
        Path good = Repo.fixtures().resolve("dcp/two_ranks.dcp");
        Files.copy(good.resolve(".metadata"), dir.resolve(".metadata"));
        Files.copy(good.resolve("__0_0.distcp"), dir.resolve("__0_0.distcp"));
        byte[] b = Files.readAllBytes(good.resolve("__1_0.distcp"));
        Files.write(dir.resolve("__1_0.distcp"), java.util.Arrays.copyOf(b, b.length / 2));
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(dir));
        assertEquals(Kind.OUT_OF_RANGE, e.kind(), e.getMessage());
    }
}
