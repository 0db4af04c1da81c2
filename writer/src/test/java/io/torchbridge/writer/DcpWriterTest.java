package io.torchbridge.writer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.Format;
import io.torchbridge.reader.PyTuple;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * DcpWriter's directories read back with the reader to the values they were given, for 1 and N
 * ranks split along each dimension (torch 2.14 loading them is compat-tests' DcpCompatTest).
 */
class DcpWriterTest {
    @TempDir
    Path tmp;

    private static float[] ramp(int n) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = i * 0.5f - 7;
        }
        return f;
    }

    private static Map<String, Object> stateDict() {
        Map<String, Object> model = new LinkedHashMap<>();
        // 300 x 257 floats: rows of 1028 bytes, so chunks along dim 1 cross the writer's buffers mid-row
        model.put("big", NewTensor.of(ramp(300 * 257), 300, 257));
        model.put("cube", NewTensor.of(new long[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 2, 3, 2));
        model.put("scalar", NewTensor.of(new double[] {2.5}));
        Map<String, Object> sd = new LinkedHashMap<>();
        sd.put("model", model);
        sd.put("epoch", 3L);
        sd.put("groups", List.of(Map.of("lr", 0.1)));
        sd.put("pair", PyTuple.of(1L, "x"));
        return sd;
    }

    @ParameterizedTest(name = "{0} ranks along dim {1}")
    @CsvSource({"1, 0", "2, 0", "3, 0", "2, 1", "7, 1", "4, 2"})
    void readsBackEqual(int ranks, int dim) throws Exception {
        Path out = tmp.resolve("sd.dcp");
        DcpWriter.save(stateDict(), out, ranks, (name, shape) -> Math.min(dim, shape.rank() - 1));
        try (Checkpoint c = Checkpoint.open(out)) {
            assertEquals(Format.DCP, c.format());
            assertEquals(List.of("model.big", "model.cube", "model.scalar"), c.names());
            assertArrayEquals(ramp(300 * 257), c.tensor("model.big").toFloatArray());
            assertArrayEquals(new long[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, c.tensor("model.cube").toLongArray());
            assertArrayEquals(new double[] {2.5}, c.tensor("model.scalar").toDoubleArray());
            assertEquals(3L, c.value("epoch"));
            assertEquals(0.1, c.value("groups.0.lr"));
            assertEquals(PyTuple.of(1L, "x"), c.value("pair"));
        }
        try (Stream<Path> files = Files.list(out)) {
            assertEquals(ranks + 1, files.count(), "one data file per rank and .metadata");
        }
    }

    @Test
    void replacesAnExistingDirectoryWholeAndLeavesNoTemporary() throws Exception {
        Path out = tmp.resolve("sd.dcp");
        DcpWriter.save(stateDict(), out, 4, (n, s) -> 0);
        DcpWriter.save(Map.of("only", NewTensor.of(new float[] {1, 2}, 2)), out);
        try (Checkpoint c = Checkpoint.open(out)) {
            assertEquals(List.of("only"), c.names());
        }
        assertFalse(Files.exists(out.resolve("__3_0.distcp")), "the old rank files went with the old directory");
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(List.of(out), s.toList(), "nothing left beside it");
        }
    }

    @Test
    void aFailedSaveLeavesTheOldDirectory() throws Exception {
        Path out = tmp.resolve("sd.dcp");
        DcpWriter.save(stateDict(), out);
        Map<String, Object> bad = new LinkedHashMap<>();
        bad.put("a.b", NewTensor.of(new float[] {1}));
        bad.put("a", Map.of("b", NewTensor.of(new float[] {2})));
        assertThrows(IllegalArgumentException.class, () -> DcpWriter.save(bad, out));
        assertThrows(IllegalArgumentException.class, () -> DcpWriter.save(List.of(1L), out));
        try (Checkpoint c = Checkpoint.open(out)) {
            assertEquals(3, c.tensors().size());
        }
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(List.of(out), s.toList());
        }
        assertTrue(Files.isRegularFile(out.resolve(".metadata")));
    }
}
