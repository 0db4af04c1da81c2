package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.Format;
import io.torchbridge.testing.Repo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code convert} into and out of Hugging Face shards: the target is chosen by
 * {@code --max-shard-size}, an index name, or {@code --to}; what it writes reads back with the
 * same names and values; a size huggingface_hub would not parse is an error, not a guess.
 */
class ConvertShardsTest {
    @TempDir
    Path tmp;

    private static final Path MLP = Repo.fixtures().resolve("shards").resolve("mlp-bin");

    private static List<String> list(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private static void assertSameTensors(Path a, Path b) throws Exception {
        try (Checkpoint x = Checkpoint.open(a); Checkpoint y = Checkpoint.open(b)) {
            assertEquals(x.names(), y.names());
            for (String n : x.names()) {
                assertEquals(ManifestCheck.sha256(x.tensor(n)), ManifestCheck.sha256(y.tensor(n)), n);
                assertEquals(x.tensor(n).dtype(), y.tensor(n).dtype(), n);
            }
        }
    }

    @Test
    void shardsToBinShardsAndBack() throws Exception {
        Path out = tmp.resolve("bin");
        CliRun r = CliRun.of("convert", MLP.toString(), out.resolve("pytorch_model.bin.index.json").toString(),
                "--max-shard-size", "1KB");
        assertEquals(0, r.exit(), r.err());
        // the same split huggingface_hub made for the same state_dict and size
        assertEquals(list(MLP).stream().filter(n -> !n.equals("manifest.json")).toList(), list(out));
        assertSameTensors(MLP, out);
        Path single = tmp.resolve("single.pt");
        assertEquals(0, CliRun.of("convert", out.toString(), single.toString(), "--to", "pth").exit());
        assertSameTensors(MLP, single);
    }

    @Test
    void maxShardSizeMeansSafetensorsShards() throws Exception {
        Path out = tmp.resolve("st");
        CliRun r = CliRun.of("convert", MLP.toString(), out.toString(), "--max-shard-size", "1KB");
        assertEquals(0, r.exit(), r.err());
        assertTrue(list(out).contains("model.safetensors.index.json"), list(out).toString());
        try (Checkpoint c = Checkpoint.open(out)) {
            assertEquals(Format.SHARDED, c.format());
            assertEquals(3, c.records().size());
        }
        try (Checkpoint x = Checkpoint.open(MLP); Checkpoint y = Checkpoint.open(out)) {
            for (String n : x.names()) {
                assertEquals(ManifestCheck.sha256(x.tensor(n)), ManifestCheck.sha256(y.tensor(n)), n);
            }
        }
    }

    @Test
    void inspectShowsTheFolderAsOneCheckpoint() {
        CliRun r = CliRun.of("inspect", MLP.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("sharded") && r.out().contains("head.weight") && r.out().contains("big"), r.out());
    }

    @Test
    void aSizeHuggingFaceHubWouldNotParseIsAnError() throws Exception {
        CliRun r = CliRun.of("convert", MLP.toString(), tmp.resolve("x").toString(), "--max-shard-size", "5GiB");
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("5GiB"), r.err());
        assertEquals(List.of(), list(tmp));
    }

    @Test
    void aCheckpointWithValuesBesideTheTensorsNeedsDropValues() throws Exception {
        Path pieces = Repo.fixtures().resolve("shards").resolve("pieces").resolve("mixed.bin");
        CliRun r = CliRun.of("convert", pieces.toString(), tmp.resolve("o").toString(), "--to", "shards-bin");
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("--drop-values") && r.err().contains("epoch"), r.err());
        CliRun dropped = CliRun.of("convert", pieces.toString(), tmp.resolve("o").toString(), "--to", "shards-bin",
                "--drop-values");
        assertEquals(0, dropped.exit(), dropped.err());
        assertTrue(dropped.err().contains("epoch"), dropped.err());
        assertEquals(List.of("pytorch_model.bin"), list(tmp.resolve("o")));
    }
}
