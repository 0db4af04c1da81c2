package io.torchbridge.reader;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.testing.Crafted;
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
 * The TorchScript layout of torch 1.0-1.2 ({@code model.json}, {@code tensors/N}), built by hand
 * to the rules of torch's reader for it (torch/csrc/jit/serialization/import_legacy.cpp;
 * caffe2/proto/torch.proto in protobuf's JSON mapping), and each way such an archive can lie.
 * The archives of fixtures/torchscript_v1.py are compared with their manifests in compat-tests.
 */
class TorchScriptV1Test {
    @TempDir
    Path dir;

    /** A main module with a buffer listed before a parameter, and a submodule 'lin' sharing the parameter. */
    private static final String MODEL = """
            {"protoVersion": "3",
             "mainModule": {"name": "main_module",
               "parameters": [{"isBuffer": true, "tensorId": "1", "name": "steps"},
                              {"isBuffer": false, "tensorId": "0", "name": "weight"}],
               "submodules": [{"name": "lin", "parameters": [{"tensorId": "0", "name": "weight"}]}]},
             "producerName": "pytorch", "producerVersion": "1.0",
             "tensors": [
               {"dims": ["2"], "offset": "0", "strides": ["1"], "requiresGrad": true, "dataType": "FLOAT",
                "data": {"key": "tensors/0"}, "device": "cpu"},
               {"dims": [], "offset": "1", "strides": [], "dataType": "INT64", "data": {"key": "tensors/1"},
                "device": "cpu"}]}
            """;

    private Path archive(String modelJson) throws IOException {
        Map<String, byte[]> r = new LinkedHashMap<>();
        r.put("version", "1\n".getBytes(StandardCharsets.US_ASCII));
        r.put("model.json", modelJson.getBytes(StandardCharsets.UTF_8));
        r.put("tensors/0", ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(1.5f).putFloat(-2f).array());
        r.put("tensors/1", ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(3).putLong(7).array());
        return Files.write(dir.resolve("m" + System.nanoTime() + ".pt"), Crafted.zip("m", r));
    }

    private CheckpointException refuse(String modelJson) {
        return refuse(modelJson, ReadOptions.defaults());
    }

    private CheckpointException refuse(String modelJson, ReadOptions options) {
        return assertThrows(CheckpointException.class, () -> Checkpoint.open(archive(modelJson), options).close());
    }

    @Test
    void parametersThenBuffersThenSubmodulesOneTensorPerTableEntry() throws IOException {
        try (Checkpoint c = Checkpoint.open(archive(MODEL))) {
            assertEquals(Format.TORCHSCRIPT, c.format());
            assertEquals(List.of("weight", "steps", "lin.weight"), c.names());
            assertArrayEquals(new float[] {1.5f, -2f}, c.tensor("weight").toFloatArray());
            assertTrue(c.tensor("weight").info().requiresGrad());
            assertArrayEquals(new long[] {7}, c.tensor("steps").toLongArray()); // offset 1 of the record
            assertSame(c.tensor("weight"), c.tensor("lin.weight"));
            PyDict meta = c.stateDict().orElseThrow().metadata().orElseThrow();
            assertEquals(List.of("", "lin"), List.copyOf(meta.items().keySet()));
        }
    }

    @Test
    void aTensorIdOutsideTheTableIsRefused() {
        CheckpointException e = refuse(MODEL.replace("\"tensorId\": \"1\"", "\"tensorId\": \"2\""));
        assertEquals(Kind.MALFORMED, e.kind());
        assertTrue(e.getMessage().contains("names tensor 2 but the table has 2"), e.getMessage());
    }

    @Test
    void twoMembersOfOneNameAreRefused() {
        CheckpointException e = refuse(MODEL.replace("\"name\": \"steps\"", "\"name\": \"weight\""));
        assertEquals(Kind.MALFORMED, e.kind());
        assertTrue(e.getMessage().contains("two members named 'weight'"), e.getMessage());
    }

    @Test
    void aProtoVersionTorchNeverReadIsUnsupported() {
        CheckpointException e = refuse(MODEL.replace("\"protoVersion\": \"3\"", "\"protoVersion\": \"6\""));
        assertEquals(Kind.UNSUPPORTED, e.kind());
    }

    @Test
    void aDataTypeThatIsNoTensorIsUnsupported() {
        CheckpointException e = refuse(MODEL.replace("\"INT64\"", "\"STRING\""));
        assertEquals(Kind.UNSUPPORTED, e.kind());
        assertTrue(e.getMessage().contains("data type STRING"), e.getMessage());
    }

    @Test
    void aMissingRecordAndAViewPastItsRecordAreRefused() {
        CheckpointException missing = refuse(MODEL.replace("tensors/1", "tensors/9"));
        assertEquals(Kind.MALFORMED, missing.kind());
        assertTrue(missing.getMessage().contains("tensors/9"), missing.getMessage());
        CheckpointException past = refuse(MODEL.replace("\"offset\": \"1\"", "\"offset\": \"2\""));
        assertEquals(Kind.OUT_OF_RANGE, past.kind());
        assertEquals("steps", past.tensorName().orElseThrow());
    }

    @Test
    void malformedJsonIsRefused() {
        assertEquals(Kind.MALFORMED, refuse(MODEL + "}").kind()); // text after the value
        CheckpointException dup = refuse(MODEL.replace("\"producerName\": \"pytorch\"",
                "\"producerName\": \"pytorch\", \"producerName\": \"x\""));
        assertTrue(dup.getMessage().contains("appears twice"), dup.getMessage());
        CheckpointException open = refuse("{\"protoVersion\": \"3");
        assertTrue(open.getMessage().contains("unterminated string"), open.getMessage());
        CheckpointException type = refuse(MODEL.replace("\"mainModule\": {", "\"mainModule\": [{")
                .replace("}]}]},", "}]}]}],"));
        assertEquals(Kind.MALFORMED, type.kind());
        assertTrue(type.getMessage().contains("mainModule is not a JSON object"), type.getMessage());
    }

    @Test
    void jsonNestedTooDeeplyIsRefused() {
        CheckpointException e = refuse(MODEL, ReadOptions.builder().maxNesting(3).build());
        assertEquals(Kind.LIMIT_EXCEEDED, e.kind());
        assertTrue(e.getMessage().contains("JSON nests deeper than 3"), e.getMessage());
    }
}
