package io.torchbridge.writer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.Format;
import io.torchbridge.testing.Repo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ShardedWriter's own rules, with expected values from huggingface_hub 1.23 (parse_size_to_int,
 * json.dump's output, computed there and pasted here). Its files against huggingface_hub's, byte
 * for byte, are compat-tests' ShardedWriterLiveTest.
 */
class ShardedWriterTest {
    @TempDir
    Path dir;

    @Test
    void sizesParseAsHuggingFaceHubParsesThem() {
        // from huggingface_hub.serialization._base.parse_size_to_int
        Object[][] cases = {{"5GB", 5_000_000_000L}, {"500MB", 500_000_000L}, {"10KB", 10_000L}, {"1.5kb", 1500L},
            {" 2 MB ", 2_000_000L}, {"0.6kb", 600L}, {"1e3KB", 1_000_000L}, {"2TB", 2_000_000_000_000L},
            {"0.29KB", 290L}, {"4.35GB", 4_350_000_000L}, {".5MB", 500_000L}, {"1.KB", 1000L}};
        for (Object[] c : cases) {
            assertEquals((long) c[1], ShardedWriter.parseSize((String) c[0]), (String) c[0]);
        }
        // its ValueErrors; plain digits are bytes here (the Python API takes them as an int)
        for (String bad : List.of("5GiB", "MB", "x1KB", "1 KB B", "-1KB", "0x10KB", "1dKB")) {
            assertThrows(IllegalArgumentException.class, () -> ShardedWriter.parseSize(bad), bad);
        }
        assertEquals(12L, ShardedWriter.parseSize("12"));
    }

    @Test
    void theIndexIsJsonDumpWithIndentTwo() {
        // json.dumps({'metadata': {'total_size': 8, 'n\u00e9': 'x\x7f\x01'}, 'weight_map': {...}}, indent=2)
        Map<String, Object> md = new LinkedHashMap<>();
        md.put("total_size", 8L);
        md.put("n\u00e9", "x\u007f\u0001");
        String json = ShardedWriter.indexJson(md, Map.of("\u00e9\"\\\n\uD83D\uDE00", "model-00001-of-00002.safetensors"));
        assertEquals("{\n  \"metadata\": {\n    \"total_size\": 8,\n    \"n\\u00e9\": \"x\\u007f\\u0001\"\n  },\n"
                + "  \"weight_map\": {\n    \"\\u00e9\\\"\\\\\\n\\ud83d\\ude00\": \"model-00001-of-00002.safetensors\"\n"
                + "  }\n}", json);
        assertEquals("{\n  \"metadata\": {},\n  \"weight_map\": {}\n}", ShardedWriter.indexJson(Map.of(), Map.of()));
    }

    private static NewTensor floats(int n) {
        return NewTensor.of(new float[n], n);
    }

    @Test
    void aTensorOverTheMaximumGetsAShardOfItsOwnBeforeTheOneBeingFilled() throws IOException {
        Map<String, Object> sd = new LinkedHashMap<>();
        sd.put("a", floats(10));   // 40 bytes
        sd.put("big", floats(30)); // 120 > 100: alone, listed before a's shard
        sd.put("b", floats(15));   // 40 + 60 = 100: still fits
        sd.put("c", floats(1));    // over: a new shard
        ShardedWriter.Written w = ShardedWriter.save(sd, dir, 100, ShardedWriter.Kind.TORCH);
        assertEquals(dir.resolve("pytorch_model.bin.index.json"), w.index());
        assertEquals(List.of("pytorch_model-00001-of-00003.bin", "pytorch_model-00002-of-00003.bin",
                "pytorch_model-00003-of-00003.bin"), w.shards().stream().map(p -> p.getFileName().toString()).toList());
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertEquals(Format.SHARDED, c.format());
            assertEquals(List.of("big", "a", "b", "c"), c.names());
            assertEquals("224", c.metadata().get("total_size"));
        }
    }

    @Test
    void tensorsSharingAStorageJoinTheFirstOnesShardAndCountOnce() throws IOException {
        NewTensor e = floats(20);
        Map<String, Object> sd = new LinkedHashMap<>();
        sd.put("e", e);
        sd.put("x", floats(20));
        sd.put("tied", e);
        sd.put("row", e.view(5, new long[] {5}, new long[] {1}));
        ShardedWriter.save(sd, dir, 100, ShardedWriter.Kind.TORCH);
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertEquals(List.of("e", "tied", "row", "x"), c.names());
            assertEquals(c.tensor("e").info().storage(), c.tensor("row").info().storage());
            assertEquals("160", c.metadata().get("total_size"));
        }
    }

    @Test
    void aSingleShardIsOneFileWithoutAnIndexAndReplacesAnEarlierSplit() throws IOException {
        Map<String, Object> sd = new LinkedHashMap<>();
        sd.put("a", floats(10));
        sd.put("b", floats(10));
        ShardedWriter.save(sd, dir, 40, ShardedWriter.Kind.TORCH);
        Files.writeString(dir.resolve("notes.txt"), "mine");
        Files.writeString(dir.resolve("pytorch_model.bin.bak"), "mine too"); // huggingface_hub's prefix match would take it
        ShardedWriter.Written w = ShardedWriter.save(sd, dir, ShardedWriter.DEFAULT_MAX_SHARD_SIZE,
                ShardedWriter.Kind.TORCH);
        assertNull(w.index());
        assertEquals(List.of("notes.txt", "pytorch_model.bin", "pytorch_model.bin.bak"), list(dir));
    }

    @Test
    void aFailedSaveLeavesTheFolderAsItWas() throws IOException {
        Map<String, Object> sd = new LinkedHashMap<>();
        sd.put("a", floats(10));
        sd.put("b", floats(10));
        ShardedWriter.save(sd, dir, 40, ShardedWriter.Kind.TORCH);
        List<String> before = list(dir);
        byte[] index = Files.readAllBytes(dir.resolve("pytorch_model.bin.index.json"));
        // the second shard's tensor comes from a closed checkpoint: its bytes cannot be read
        Checkpoint closed = Checkpoint.open(Repo.fixtures().resolve("shards").resolve("pieces").resolve("a.bin"));
        closed.close();
        Map<String, Object> bad = new LinkedHashMap<>();
        bad.put("a", floats(10));
        bad.put("x", closed.tensor("x"));
        bad.put("c", floats(10));
        assertThrows(RuntimeException.class, () -> ShardedWriter.save(bad, dir, 40, ShardedWriter.Kind.TORCH));
        assertEquals(before, list(dir), "no file added, removed or left half-written");
        assertArrayEquals(index, Files.readAllBytes(dir.resolve("pytorch_model.bin.index.json")));
    }

    @Test
    void whatIsNotADenseTensorIsRefusedBeforeAnyFile() {
        Map<String, Object> sd = new LinkedHashMap<>();
        sd.put("a", floats(1));
        sd.put("epoch", 3L);
        assertThrows(IllegalArgumentException.class, () -> ShardedWriter.save(sd, dir, 40, ShardedWriter.Kind.TORCH));
        assertThrows(IllegalArgumentException.class,
                () -> ShardedWriter.save(Map.of(), dir, 40, ShardedWriter.Kind.TORCH));
        assertEquals(List.of(), list(dir));
    }

    @Test
    void safetensorsShardsKeepOneOfTiedTensorsAndRecordTheOthers() throws IOException {
        NewTensor e = floats(20);
        Map<String, Object> sd = new LinkedHashMap<>();
        sd.put("lm_head", e);
        sd.put("x", floats(20));
        sd.put("embed", e);
        ShardedWriter.Written w = ShardedWriter.save(sd, dir, 100, ShardedWriter.Kind.SAFETENSORS);
        // _remove_duplicate_names keeps the first complete name in sorted order
        assertEquals(Map.of("lm_head", "embed"), w.removed());
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertEquals(List.of("x", "embed"), c.names()); // lm_head left; embed keeps its place
            assertEquals("embed", c.metadata().get("lm_head"));
        }
        Map<String, Object> slice = new LinkedHashMap<>();
        slice.put("row", e.view(5, new long[] {5}, new long[] {1}));
        assertThrows(IllegalArgumentException.class,
                () -> ShardedWriter.save(slice, dir, 100, ShardedWriter.Kind.SAFETENSORS));
    }

    private static List<String> list(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
