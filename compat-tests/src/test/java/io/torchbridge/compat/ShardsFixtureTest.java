package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.Format;
import io.torchbridge.reader.Tensor;
import io.torchbridge.testing.Repo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Every sharded checkpoint in fixtures/shards (written by huggingface_hub 1.23's
 * save_torch_state_dict, both kinds) reads as huggingface_hub's own loader sees it: its
 * manifest.json lists each tensor as load_state_dict_from_file gives it, shard by shard in sorted
 * shard order (names, dtypes, shapes, sha256), and the index's metadata.
 */
class ShardsFixtureTest {
    @TestFactory
    Stream<DynamicTest> eachFolderReadsAsHuggingFaceHubLoadsIt() throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        try (Stream<Path> s = Files.list(Repo.fixtures().resolve("shards"))) {
            for (Path folder : s.filter(p -> Files.isRegularFile(p.resolve("manifest.json"))).sorted().toList()) {
                tests.add(dynamicTest(folder.getFileName().toString(), () -> check(folder)));
            }
        }
        assertEquals(4, tests.size(), "fixture folders");
        return tests.stream();
    }

    private static void check(Path folder) throws Exception {
        JsonNode m = new ObjectMapper().readTree(folder.resolve("manifest.json").toFile());
        // the folder, and its index by name: one checkpoint either way
        for (Path open : List.of(folder, folder.resolve(m.get("index").asText()))) {
            try (Checkpoint c = Checkpoint.open(open)) {
                assertEquals(Format.SHARDED, c.format());
                List<String> names = new ArrayList<>();
                for (JsonNode t : m.get("tensors")) {
                    names.add(t.get("name").asText());
                }
                assertEquals(names, c.names(), "names in huggingface_hub's loading order");
                for (JsonNode t : m.get("tensors")) {
                    String name = t.get("name").asText();
                    Tensor tensor = c.tensor(name);
                    assertEquals(t.get("dtype").asText(), tensor.dtype().pythonName(), name + " dtype");
                    long[] shape = new long[t.get("shape").size()];
                    for (int i = 0; i < shape.length; i++) {
                        shape[i] = t.get("shape").get(i).asLong();
                    }
                    assertArrayEquals(shape, tensor.shape().toArray(), name + " shape");
                    assertEquals(t.get("sha256").asText(), ManifestCheck.sha256(tensor), name + " sha256");
                }
                Map<String, String> metadata = new LinkedHashMap<>();
                for (Iterator<Map.Entry<String, JsonNode>> it = m.get("metadata").fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = it.next();
                    metadata.put(e.getKey(), e.getValue().asText());
                }
                assertEquals(metadata, c.metadata(), "the index's metadata");
                assertTrue(c.records().size() >= 2, "split into shards: " + c.records());
            }
        }
    }
}
