package io.torchbridge.writer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.DType;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The safetensors writer without Python: the header as safetensors 0.8's save_file wrote it for
 * the same input (the literal strings below are its output), values read back, and what it
 * refuses. The live byte comparison with save_file is in compat-tests (SafetensorsCompatTest).
 */
class SafetensorsWriterTest {
    @TempDir
    Path dir;

    private static String header(Path f) throws IOException {
        byte[] b = Files.readAllBytes(f);
        long n = 0;
        for (int i = 7; i >= 0; i--) {
            n = n << 8 | (b[i] & 0xFF);
        }
        return new String(b, 8, (int) n, StandardCharsets.UTF_8);
    }

    @Test
    void headerEscapesAndEmptyMetadataAsSaveFileWritesThem() throws IOException {
        // save_file({"a\x01\x7f\x1f\b\f\r\t": torch.zeros(1)}, f, metadata={})
        Path f = dir.resolve("x.safetensors");
        SafetensorsWriter.save(Map.of("a\u0001\u007f\u001f\b\f\r\t", NewTensor.of(new float[] {0}, 1)), Map.of(), f);
        assertEquals("{\"__metadata__\":{},\"a\\u0001\u007f\\u001f\\b\\f\\r\\t\":{\"dtype\":\"F32\",\"shape\":[1],"
                + "\"data_offsets\":[0,4]}}   ", header(f));
        assertEquals(8 + header(f).getBytes(StandardCharsets.UTF_8).length + 4, Files.size(f));
        // save_file({}, f): the header {} padded to 8
        Path empty = dir.resolve("y.safetensors");
        SafetensorsWriter.save(Map.of(), null, empty);
        assertArrayEquals(new byte[] {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '},
                Files.readAllBytes(empty));
    }

    @Test
    void sortedByDtypeThenByUtf8Name() throws IOException {
        // save_file({"\U0001F600": z, "\uffff": z, "b": z}): UTF-8 bytes order (EF before F0), not UTF-16's
        Map<String, Object> t = new LinkedHashMap<>();
        t.put("\uD83D\uDE00", NewTensor.of(new float[] {0}, 1));
        t.put("\uffff", NewTensor.of(new float[] {0}, 1));
        t.put("b", NewTensor.of(new float[] {0}, 1));
        Path f = dir.resolve("z.safetensors");
        SafetensorsWriter.save(t, null, f);
        assertEquals("{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"\uffff\":{\"dtype\":\"F32\","
                + "\"shape\":[1],\"data_offsets\":[4,8]},\"\uD83D\uDE00\":{\"dtype\":\"F32\",\"shape\":[1],"
                + "\"data_offsets\":[8,12]}}  ", header(f));
        // dtype order, descending in the crate's Dtype enum: I64 before F32 before BF16 before I8 before BOOL
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("a_bool", NewTensor.of(new boolean[] {true}, 1));
        d.put("b_i8", NewTensor.ofBytes(new byte[] {-3}, DType.INT8, 1));
        d.put("c_bf16", NewTensor.ofBytes(new byte[] {0, 0x3f}, DType.BFLOAT16, 1));
        d.put("d_f32", NewTensor.of(new float[] {2.5f}));
        d.put("e_i64", NewTensor.of(new long[] {9}, 1));
        Path g = dir.resolve("d.safetensors");
        SafetensorsWriter.save(d, Map.of("format", "pt"), g);
        try (Checkpoint c = Checkpoint.open(g)) {
            assertEquals(List.of("e_i64", "d_f32", "c_bf16", "b_i8", "a_bool"), c.names());
            assertEquals(Map.of("format", "pt"), c.metadata());
            assertArrayEquals(new long[] {9}, c.tensor("e_i64").toLongArray());
            assertArrayEquals(new float[] {2.5f}, c.tensor("d_f32").toFloatArray());
            assertEquals(0, c.tensor("d_f32").shape().rank());
            assertArrayEquals(new float[] {0.5f}, c.tensor("c_bf16").toFloatArray());
            assertArrayEquals(new byte[] {-3}, c.tensor("b_i8").toByteArray());
            assertArrayEquals(new boolean[] {true}, c.tensor("a_bool").toBooleanArray());
        }
    }

    @Test
    void readTensorsAreCopiedAndViewsNeedMaterialize() throws IOException {
        float[] w = new float[12];
        for (int i = 0; i < w.length; i++) {
            w[i] = i;
        }
        NewTensor base = NewTensor.of(w, 3, 4);
        Map<String, Object> sd = new LinkedHashMap<>();
        sd.put("w", base);
        sd.put("t", base.view(0, new long[] {4, 3}, new long[] {1, 4})); // w.t()
        sd.put("row", base.view(4, new long[] {4}, new long[] {1})); // w[1], overlapping w
        Path pt = dir.resolve("in.pt");
        CheckpointWriter.save(sd, pt);
        Path out = dir.resolve("out.safetensors");
        try (Checkpoint in = Checkpoint.open(pt)) {
            SafetensorsWriter.Unrepresentable e = assertThrows(SafetensorsWriter.Unrepresentable.class,
                    () -> SafetensorsWriter.save(in.tensors(), null, out));
            assertEquals(List.of("t"), e.views());
            assertEquals(List.of(List.of("row", "t", "w")), e.shared());
            assertFalse(Files.exists(out));
            SafetensorsWriter.save(in.tensors(), null, out, WriteOptions.defaults(), true);
        }
        try (Checkpoint c = Checkpoint.open(out)) {
            assertEquals(List.of("row", "t", "w"), c.names());
            assertArrayEquals(new float[] {4, 5, 6, 7}, c.tensor("row").toFloatArray());
            assertArrayEquals(new float[] {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}, c.tensor("t").toFloatArray());
            assertArrayEquals(w, c.tensor("w").toFloatArray());
        }
        // two halves of one storage do not overlap: save_file writes them, and so do we
        Map<String, Object> halves = new LinkedHashMap<>();
        halves.put("a", base.view(0, new long[] {6}, new long[] {1}));
        halves.put("b", base.view(6, new long[] {6}, new long[] {1}));
        SafetensorsWriter.save(halves, null, out);
        try (Checkpoint c = Checkpoint.open(out)) {
            assertArrayEquals(Arrays.copyOfRange(w, 6, 12), c.tensor("b").toFloatArray());
        }
    }

    @Test
    void whatSafetensorsCannotHoldIsRefusedByName() {
        Path out = dir.resolve("r.safetensors");
        IllegalArgumentException complex = assertThrows(IllegalArgumentException.class, () -> SafetensorsWriter.save(
                Map.of("c", NewTensor.ofBytes(new byte[16], DType.COMPLEX128, 1)), null, out));
        assertTrue(complex.getMessage().contains("'c' is complex128"), complex.getMessage());
        IllegalArgumentException value = assertThrows(IllegalArgumentException.class,
                () -> SafetensorsWriter.save(Map.of("epoch", 3L), null, out));
        assertTrue(value.getMessage().startsWith("'epoch' is a java.lang.Long"), value.getMessage());
        assertFalse(Files.exists(out));
    }
}
