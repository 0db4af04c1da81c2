package io.torchbridge.reader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.testing.Repo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hugging Face sharded checkpoints ({@link Format#SHARDED}): huggingface_hub's own folders
 * (fixtures/shards, generate_shards.py) read as one checkpoint, and indexes that disagree with
 * their shards, or point outside their folder, refused with a clean error. Values are checked
 * against huggingface_hub's loader in compat-tests (ShardsFixtureTest).
 */
class ShardsTest {
    @TempDir
    Path dir;

    private static Path fixture(String name) {
        return Repo.fixtures().resolve("shards").resolve(name);
    }

    /** A folder with copies of the pieces and {@code index} as its index json. */
    private Path folder(String index, String... pieces) throws IOException {
        for (String p : pieces) {
            Files.copy(fixture("pieces").resolve(p), dir.resolve(p), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        Files.writeString(dir.resolve("model.bin.index.json"), index);
        return dir;
    }

    private CheckpointException refused(Path path) {
        return assertThrows(CheckpointException.class, () -> Checkpoint.open(path).close());
    }

    @Test
    void indexAndFolderReadAsOneCheckpointInShardOrder() throws IOException {
        Path folder = fixture("mlp-bin");
        for (Path p : List.of(folder.resolve("pytorch_model.bin.index.json"), folder)) {
            try (Checkpoint c = Checkpoint.open(p)) {
                assertEquals(Format.SHARDED, c.format());
                // huggingface_hub put "big" (over max_shard_size) in a shard of its own, the first
                assertEquals(List.of("big", "embed.weight", "layers.0.weight", "layers.0.bias", "layers.1.weight",
                        "layers.1.bias", "norm.num_batches_tracked", "mask", "head.weight"), c.names());
                assertEquals(List.of("pytorch_model-00001-of-00003.bin", "pytorch_model-00002-of-00003.bin",
                        "pytorch_model-00003-of-00003.bin"), c.records());
                assertEquals(Map.of("total_size", "4011"), c.metadata());
                assertEquals(DType.BFLOAT16, c.tensor("layers.1.weight").dtype());
                assertEquals(699f, c.tensor("big").toFloatArray()[699]);
                assertEquals(7L, c.tensor("norm.num_batches_tracked").toLongArray()[0]);
                assertTrue(c.root() instanceof PyDict d && d.size() == 9);
            }
        }
    }

    @Test
    void tiedTensorsStayOneStorageInTheirShard() throws IOException {
        try (Checkpoint c = Checkpoint.open(fixture("tied-bin"))) {
            assertEquals(List.of("embed.weight", "lm_head.weight", "block.weight", "block.bias"), c.names());
            assertEquals(c.tensor("embed.weight").info().storage(), c.tensor("lm_head.weight").info().storage());
            // total_size counts the shared storage once (huggingface_hub), 1568 = (40*8 + 8*8 + 8) * 4
            assertEquals("1568", c.metadata().get("total_size"));
        }
    }

    @Test
    void closeClosesEveryShard() throws IOException {
        Checkpoint c = Checkpoint.open(fixture("mlp-bin"));
        Tensor first = c.tensor("big");
        Tensor last = c.tensor("head.weight");
        c.close();
        assertThrows(IllegalStateException.class, first::toFloatArray);
        assertThrows(IllegalStateException.class, last::toDoubleArray);
    }

    @Test
    void aTensorTheIndexDoesNotListIsKeptAsTheLoadersKeepIt() throws IOException {
        try (Checkpoint c = Checkpoint.open(folder("{\"weight_map\": {\"y\": \"b.bin\"}}", "b.bin"))) {
            assertEquals(List.of("x", "y"), c.names());
        }
    }

    @Test
    void aFolderWithTwoIndexesNamesBoth() throws IOException {
        folder("{\"weight_map\": {\"x\": \"a.bin\"}}", "a.bin");
        Files.writeString(dir.resolve("other.index.json"), "{\"weight_map\": {\"x\": \"a.bin\"}}");
        CheckpointException e = refused(dir);
        assertEquals(Kind.UNSUPPORTED, e.kind());
        assertTrue(e.getMessage().contains("model.bin.index.json, other.index.json"), e.getMessage());
    }

    @Test
    void anIndexLargerThanThePickleLimitIsNotRead() throws IOException {
        // a limit the shard's own pickle fits in, and an index (valid JSON) one byte over it
        Path p = folder("{\"weight_map\": {\"x\": \"a.bin\"}}" + " ".repeat(4097 - 30), "a.bin");
        try (Checkpoint c = Checkpoint.open(p)) {
            assertEquals(List.of("x"), c.names());
        }
        ReadOptions small = new ReadOptions(Set.of(), 4096, ReadOptions.defaults().maxMemo(),
                ReadOptions.defaults().maxStack(), ReadOptions.defaults().maxNesting(),
                ReadOptions.defaults().maxTreeNodes(), false);
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(p, small).close());
        assertEquals(Kind.LIMIT_EXCEEDED, e.kind());
    }

    @Test
    void malformedIndexesAreRefused() throws IOException {
        Files.copy(fixture("pieces").resolve("a.bin"), dir.resolve("a.bin"));
        Path index = dir.resolve("model.bin.index.json");
        for (String text : List.of(
                "{\"metadata\": {}}",                                              // no weight_map
                "{\"weight_map\": [\"a.bin\"]}",                                   // not an object
                "{\"weight_map\": {\"x\": 3}}",                                    // shard not a name
                "{\"weight_map\": {\"x\": \"a.bin\"}, \"metadata\": [1]}",         // metadata not an object
                "{\"weight_map\": {\"x\": \"a.bin\", \"x\": \"a.bin\"}}",          // a name twice
                "{\"weight_map\": {\"x\": \"a.bin\"",                              // cut off
                "{\"weight_map\": {\"x\": \"a.bin\"}} {}")) {                      // text after it
            Files.writeString(index, text);
            CheckpointException e = refused(dir);
            assertEquals(Kind.MALFORMED, e.kind(), text + ": " + e.getMessage());
        }
        Files.write(index, new byte[] {'{', '"', (byte) 0xC3, '"', '}'});
        assertEquals(Kind.MALFORMED, refused(dir).kind(), "not UTF-8");
    }

    @Test
    void shardNamesMustStayInsideTheFolder() throws IOException {
        Path inner = Files.createDirectories(dir.resolve("inner"));
        Files.copy(fixture("pieces").resolve("a.bin"), dir.resolve("a.bin"));
        for (String shard : List.of("../a.bin", "sub/../../a.bin", "..\\a.bin", dir.resolve("a.bin").toString(),
                "\\\\server\\a.bin", "C:/a.bin", "")) {
            Files.writeString(inner.resolve("model.bin.index.json"), "{\"weight_map\": {\"x\": \""
                    + shard.replace("\\", "\\\\") + "\"}}");
            CheckpointException e = refused(inner);
            assertEquals(Kind.MALFORMED, e.kind(), shard + ": " + e.getMessage());
            assertEquals("x", e.tensorName().orElseThrow(), shard);
        }
    }

    @Test
    void aShardInASubfolderIsRead() throws IOException {
        Files.createDirectories(dir.resolve("sub"));
        Files.copy(fixture("pieces").resolve("a.bin"), dir.resolve("sub").resolve("a.bin"));
        Files.writeString(dir.resolve("model.bin.index.json"), "{\"weight_map\": {\"x\": \"sub/a.bin\"}}");
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertEquals(List.of("x"), c.names());
        }
    }

    @Test
    void aMissingShardIsNamed() throws IOException {
        Path p = folder("{\"weight_map\": {\"x\": \"a.bin\", \"w\": \"gone.bin\"}}", "a.bin");
        CheckpointException e = refused(p);
        assertEquals(Kind.IO, e.kind());
        assertEquals("gone.bin", e.record().orElseThrow());
        assertEquals("w", e.tensorName().orElseThrow());
    }

    @Test
    void aShardThatIsNotADictOfTensorsIsRefused() throws IOException {
        CheckpointException list = refused(folder("{\"weight_map\": {\"x\": \"list.bin\"}}", "list.bin"));
        assertEquals(Kind.MALFORMED, list.kind());
        assertEquals("list.bin", list.record().orElseThrow());
        Files.delete(dir.resolve("model.bin.index.json"));
        CheckpointException mixed = refused(folder("{\"weight_map\": {\"x\": \"mixed.bin\"}}", "mixed.bin"));
        assertEquals(Kind.MALFORMED, mixed.kind());
        assertEquals("epoch", mixed.tensorName().orElseThrow());
    }

    @Test
    void aShardThatIsNotATorchSaveIsNamed() throws IOException {
        Files.writeString(dir.resolve("x.bin"), "not a checkpoint");
        CheckpointException e = refused(folder("{\"weight_map\": {\"x\": \"x.bin\"}}"));
        assertEquals(Kind.MALFORMED, e.kind());
        assertEquals("x.bin", e.record().orElseThrow());
    }

    @Test
    void aNameInTwoShardsIsRefused() throws IOException {
        // x is in a.bin and b.bin and the index lists it in neither
        Path p = folder("{\"weight_map\": {\"y\": \"b.bin\", \"w\": \"c.bin\", \"v\": \"a.bin\"}}",
                "a.bin", "b.bin", "c.bin");
        CheckpointException e = refused(p);
        assertEquals(Kind.MALFORMED, e.kind());
        assertEquals("x", e.tensorName().orElseThrow());
        assertEquals("b.bin", e.record().orElseThrow());
        assertTrue(e.getMessage().contains("a.bin"), e.getMessage());
    }

    @Test
    void aTensorInAnotherShardThanTheIndexSaysIsRefused() throws IOException {
        Path p = folder("{\"weight_map\": {\"x\": \"c.bin\", \"w\": \"c.bin\", \"z\": \"a.bin\"}}", "a.bin", "c.bin");
        CheckpointException e = refused(p);
        assertEquals(Kind.MALFORMED, e.kind());
        assertEquals("a.bin", e.record().orElseThrow());
        assertEquals("x", e.tensorName().orElseThrow());
    }

    @Test
    void aTensorTheIndexNamesButItsShardLacksIsRefused() throws IOException {
        Path p = folder("{\"weight_map\": {\"x\": \"a.bin\", \"w\": \"a.bin\"}}", "a.bin");
        CheckpointException e = refused(p);
        assertEquals(Kind.MALFORMED, e.kind());
        assertEquals("w", e.tensorName().orElseThrow());
        assertEquals("a.bin", e.record().orElseThrow());
    }

    /**
     * total_size is information, not a check: writers count it differently (storages once, each
     * tensor, file sizes, a string a user put there) and transformers never compares it, so an
     * index it disagrees with still opens, with the value shown as given.
     */
    @Test
    void totalSizeIsShownNotChecked() throws IOException {
        // a.bin holds arange(3.): 12 bytes
        for (String ts : List.of("12", "13", "\"0\"", "-12", "1.5")) {
            Path p = folder("{\"metadata\": {\"total_size\": " + ts + "}, \"weight_map\": {\"x\": \"a.bin\"}}",
                    "a.bin");
            try (Checkpoint c = Checkpoint.open(p)) {
                assertEquals(ts.replace("\"", ""), c.metadata().get("total_size"));
                assertEquals(List.of("x"), c.names());
            }
        }
    }

    @Test
    void everyFixtureFolderOpensAndClosesItsShards() throws IOException {
        try (Stream<Path> s = Files.list(Repo.fixtures().resolve("shards"))) {
            for (Path folder : s.filter(p -> p.getFileName().toString().endsWith("-bin")).toList()) {
                try (Checkpoint c = Checkpoint.open(folder)) {
                    assertTrue(c.names().size() >= 4, folder.toString());
                    assertTrue(c.records().size() >= 2, folder + " is split into shards");
                }
            }
        }
    }

    /**
     * Every shard numbers its storages from 0 (torch.save's keys "0", "1", ...; a safetensors
     * file's own order), so keys must be made unique across shards, or inspect counts a few
     * hundred MiB in a few storages where there are GiBs in hundreds. The distinct storages'
     * bytes must add up to huggingface_hub's total_size, which counts each storage once.
     */
    @Test
    void distinctStoragesAddUpToHuggingFaceTotalSize() throws IOException {
        try (Stream<Path> s = Files.list(Repo.fixtures().resolve("shards"))) {
            for (Path folder : s.filter(p -> !p.getFileName().toString().equals("pieces") && Files.isDirectory(p))
                    .toList()) {
                String manifest = Files.readString(folder.resolve("manifest.json"));
                java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"total_size\": (\\d+)").matcher(manifest);
                assertTrue(m.find(), folder + ": manifest without total_size");
                try (Checkpoint c = Checkpoint.open(folder)) {
                    Map<String, Long> storages = new java.util.HashMap<>();
                    for (TensorEntry e : c.entries()) {
                        storages.put(e.tensor().info().storage().key(), e.tensor().info().storage().nbytes());
                    }
                    assertEquals(Long.parseLong(m.group(1)),
                            storages.values().stream().mapToLong(Long::longValue).sum(), folder.toString());
                }
            }
        }
    }
}
