package io.torchbridge.reader;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.testing.Repo;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Quantized, sparse and nested tensors: listed, with their parameters and values as torch 2.14
 * gives them (expected values copied from the manifests torch wrote, fixtures/qsparse-2.14.1), and
 * the hostile files of fixtures/qsparse-hostile (written by torch.save with rebuild arguments
 * torch never writes) refused with the kind hostile.json names. The full comparison with every
 * manifest, and with live torch, is compat-tests' QSparseFixtureTest.
 */
class QSparseTest {
    private static Path fixture(String file) {
        return Repo.fixtures().resolve("qsparse-2.14.1").resolve(file);
    }

    @Test
    void aQuantizedModelListsItsTensorsInsteadOfNone() throws IOException {
        // issue 10: these files listed 0 tensors and exited 0
        try (Checkpoint c = Checkpoint.open(fixture("quantized.pt"))) {
            assertEquals(List.of("per_tensor_quint8", "per_tensor_qint8", "per_tensor_qint32", "per_tensor_transposed",
                    "per_tensor_narrowed", "per_channel_qint8_axis0", "per_channel_quint8_axis1", "float_qparams_quint8",
                    "float_qparams_quint4x2", "float_qparams_quint2x4", "per_tensor_quint4x2"), c.names());
            Tensor q = c.tensor("per_tensor_quint8");
            assertEquals(DType.QUINT8, q.dtype());
            assertEquals(TensorLayout.STRIDED, q.layout());
            assertEquals(new Quantization.PerTensor(0.5, 3), q.quantization().orElseThrow());
            assertArrayEquals(new float[] {1.0f, -1.5f, 3.5f, 0.0f, 0.0f, 4.0f, -1.5f, 1.5f, 7.0f, -0.5f, 2.0f, -1.5f},
                    q.toDequantizedFloatArray());
            assertEquals(12, q.data().remaining(), "the integers, zero-copy");

            Quantization.PerChannel pc = (Quantization.PerChannel) c.tensor("float_qparams_quint4x2").quantization()
                    .orElseThrow();
            assertEquals(QScheme.PER_CHANNEL_AFFINE_FLOAT_QPARAMS, pc.scheme());
            assertEquals(0, pc.axis());
            assertEquals(DType.FLOAT32, pc.scales().dtype());
            // quint4x2 [3, 5]: int_repr() is 8 packed bytes, low nibble first (torch 2.14 prints them)
            Tensor packed = c.tensor("float_qparams_quint4x2");
            assertEquals(8, packed.info().nbytes());
            assertArrayEquals(new byte[] {33, (byte) 147, 58, 68, 20, (byte) 219, (byte) 255, 2}, packed.toByteArray());
            assertThrows(IllegalStateException.class, () -> packed.toFloatArray());
        }
    }

    @Test
    void sparseTensorsAreOneTensorEachWithComponentsAndDenseValues() throws IOException {
        try (Checkpoint c = Checkpoint.open(fixture("sparse.pt"))) {
            assertEquals(11, c.names().size());
            Tensor coo = c.tensor("coo_uncoalesced");
            assertEquals(TensorLayout.SPARSE_COO, coo.layout());
            assertEquals(List.of("indices", "values"), new ArrayList<>(coo.components().keySet()));
            assertArrayEquals(new long[] {0, 2, 0, 1, 1, 0, 1, 3}, coo.components().get("indices").toLongArray());
            // torch.sparse_coo_tensor([[0,2,0,1],[1,0,1,3]], [1,2,4,8], (3,4)).to_dense(): duplicates summed
            assertArrayEquals(new float[] {0, 5, 0, 0, 0, 0, 0, 8, 2, 0, 0, 0}, coo.toFloatArray());
            assertThrows(IllegalStateException.class, coo::data);

            Tensor bsc = c.tensor("bsc");
            assertEquals(TensorLayout.SPARSE_BSC, bsc.layout());
            assertEquals(List.of("ccol_indices", "row_indices", "values"), new ArrayList<>(bsc.components().keySet()));
            assertArrayEquals(new float[] {0, 1.5f, 0, -2, 0, 0, 0, 0, 3, 0, 4.25f, 0, 0, 5, 0, 6}, bsc.toFloatArray());
            assertArrayEquals(bsc.toFloatArray(), c.tensor("csr").toFloatArray());
        }
    }

    @Test
    void nestedTensorsGiveTheirComponentsConcatenated() throws IOException {
        try (Checkpoint c = Checkpoint.open(fixture("nested.pt"))) {
            Tensor n = c.tensor("nested_1d_int");
            assertEquals(TensorLayout.NESTED, n.layout());
            assertEquals(Shape.of(6), n.shape());
            assertArrayEquals(new long[] {1, 2, 3, 4, 5, 6}, n.toLongArray());
            assertArrayEquals(new long[] {3, 1, 2}, n.components().get("sizes").toLongArray());
        }
    }

    /** One entry of hostile.json: {"file": ..., "kind": ..., "safety": ..., "torch": ...}, one per line. */
    record Hostile(String file, String kind, String safety, String torch) {
    }

    static List<Hostile> hostile() throws IOException {
        Pattern p = Pattern.compile("\\{\"file\": \"([^\"]+)\", \"kind\": \"([A-Z_]+)\", \"safety\": (?:\"([^\"]+)\"|null), "
                + "\"torch\": \"(.*)\"\\}");
        List<Hostile> out = new ArrayList<>();
        for (String line : Files.readAllLines(Repo.fixtures().resolve("qsparse-hostile/hostile.json"),
                StandardCharsets.UTF_8)) {
            Matcher m = p.matcher(line.strip());
            if (m.find()) {
                out.add(new Hostile(m.group(1), m.group(2), m.group(3), m.group(4)));
            }
        }
        assertTrue(out.size() >= 20, "hostile.json entries: " + out.size());
        return out;
    }

    @TestFactory
    Stream<DynamicTest> hostileFilesAreRefusedWithTheirKindUnderTheTensorsName() throws IOException {
        return hostile().stream().map(h -> DynamicTest.dynamicTest(h.file() + " (" + h.safety() + ")", () -> {
            Path f = Repo.fixtures().resolve("qsparse-hostile").resolve(h.file());
            CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(f).close(),
                    "torch 2.14 " + h.torch());
            assertEquals(h.kind(), e.kind().name(), e.getMessage());
            assertEquals("bad", e.tensorName().orElseThrow(), e.getMessage());
        }));
    }
}
