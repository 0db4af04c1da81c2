package io.torchbridge.compat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;

/** A fixture's manifest, written by real PyTorch (fixtures/tbmanifest.py). */
record Manifest(Path file, JsonNode json) {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    static Manifest read(Path manifest) throws IOException {
        JsonNode json = MAPPER.readTree(manifest.toFile());
        return new Manifest(manifest.resolveSibling(json.get("file").asText()), json);
    }

    String torch() {
        return json.get("torch").asText();
    }

    JsonNode tensors() {
        return json.get("tensors");
    }

    JsonNode values() {
        return json.get("values");
    }
}
