package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.torchbridge.cli.Main;
import io.torchbridge.testing.Repo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code torchbridge convert} of a TorchScript archive writes its state_dict as a torch.save
 * checkpoint: torch 2.14 loads every converted fixture with weights_only=True (and mmap=True) and
 * finds what the archive's torch found in {@code torch.jit.load(f).state_dict()}: an OrderedDict of
 * the same names in the same order, with its {@code _metadata}, the same dtypes, shapes, strides and
 * values (sha256), and a weight shared in the archive shared in the file.
 */
class TorchScriptConvertTest {
    @TempDir
    Path tmp;

    @Test
    void convertedTorchScriptLoadsInTorch214WithWeightsOnly() throws Exception {
        ObjectMapper json = new ObjectMapper();
        int n = 0;
        List<String> sets = new java.util.ArrayList<>(Repo.TORCH_VERSIONS);
        sets.add("v1"); // the model.json layout
        for (String v : sets) {
            for (Path mf : FixtureTest.manifests(TorchScriptFixtureTest.folder(v))) {
                Manifest m = Manifest.read(mf);
                String name = v + "-" + m.file().getFileName();
                assertEquals(0, Main.run("convert", m.file().toString(), tmp.resolve(name).toString()), name);
                Files.writeString(tmp.resolve(name.replace(".pt", ".expected.json")),
                        json.writeValueAsString(expected(json, m)));
                n++;
            }
        }
        assertTrue(n >= 32, "converted " + n);
        String report = TorchMatrix.require("2.14.1").run(600, Repo.fixtures().resolve("check_written.py").toString(),
                tmp.toString());
        assertTrue(report.contains("check_written: " + n + " passed, 0 failed"), report);
    }

    /**
     * The manifest check_written.py expects of torch.save(state_dict): the OrderedDict with the
     * state_dict's _metadata, one tensor value per name; the tensors as torch listed them, a storage
     * per storage_group.
     */
    static ObjectNode expected(ObjectMapper json, Manifest m) {
        ObjectNode out = json.createObjectNode();
        out.put("file", m.file().getFileName().toString());
        ArrayNode values = out.putArray("values");
        ObjectNode root = values.addObject();
        root.put("name", "");
        root.put("type", "dict");
        root.put("class", "collections.OrderedDict");
        ArrayNode keys = root.putArray("keys");
        for (JsonNode t : m.tensors()) {
            keys.addArray().add("str").add(t.get("name").asText());
        }
        root.set("metadata", m.json().get("metadata"));
        ArrayNode tensors = out.putArray("tensors");
        for (JsonNode t : m.tensors()) {
            ObjectNode v = values.addObject();
            v.put("name", t.get("name").asText());
            v.put("type", "tensor");
            ObjectNode e = tensors.addObject();
            for (Iterator<Map.Entry<String, JsonNode>> it = t.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                if (!List.of("head", "storage_group").contains(f.getKey())) {
                    e.set(f.getKey(), f.getValue());
                }
            }
            e.put("storage_key", t.get("storage_group").asText());
        }
        return out;
    }
}
