package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.Quantization;
import io.torchbridge.reader.Tensor;
import io.torchbridge.reader.TensorLayout;
import java.io.IOException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * Compares what the reader gives for a quantized / sparse / nested fixture with the manifest real
 * torch wrote for it ({@code fixtures/qsparse.py}): names in order, layout, dtype, shape, the
 * sha256 of the integer representation or dense values, quantization parameters, dequantized
 * values, and each component.
 */
final class QSparseCheck {
    static final ObjectMapper MAPPER = new ObjectMapper();

    private QSparseCheck() {
    }

    static JsonNode read(Path manifest) throws IOException {
        return MAPPER.readTree(manifest.toFile());
    }

    /**
     * torch 1.13 writes CSR through {@code torch._utils._rebuild_sparse_csr_tensor}, which torch 2.x
     * neither allows nor has: torch 1.x files are read with that global admitted.
     */
    static final io.torchbridge.reader.ReadOptions OLD_CSR_ADMITTED = io.torchbridge.reader.ReadOptions.builder()
            .allowGlobal("torch._utils", "_rebuild_sparse_csr_tensor").build();

    static void check(JsonNode m, Path pt) throws Exception {
        io.torchbridge.reader.ReadOptions options = m.get("torch").asText().startsWith("1.")
                ? OLD_CSR_ADMITTED : io.torchbridge.reader.ReadOptions.defaults();
        try (Checkpoint c = Checkpoint.open(pt, options)) {
            List<String> expectedNames = new ArrayList<>();
            for (JsonNode t : m.get("tensors")) {
                expectedNames.add(t.get("name").asText());
            }
            assertEquals(expectedNames, c.names(), pt + ": names");
            for (JsonNode e : m.get("tensors")) {
                String name = e.get("name").asText();
                Tensor t = c.tensor(name);
                String where = pt.getFileName() + " " + name;
                assertEquals(e.get("layout").asText(), t.layout().pythonName(), where + " layout");
                assertEquals(e.get("dtype").asText(), t.dtype().pythonName(), where + " dtype");
                assertArrayEquals(longs(e.get("shape")), t.shape().toArray(), where + " shape");
                assertEquals(e.get("sha256").asText(), sha256(t), where + " sha256");
                if (e.has("qscheme")) {
                    quantization(e, t, where);
                } else {
                    assertTrue(t.quantization().isEmpty(), where + " is not quantized");
                }
                if (e.has("components")) {
                    Map<String, Tensor> parts = t.components();
                    List<String> names = new ArrayList<>();
                    e.get("components").fieldNames().forEachRemaining(names::add);
                    assertEquals(names, new ArrayList<>(parts.keySet()), where + " components");
                    for (String k : names) {
                        JsonNode ce = e.get("components").get(k);
                        Tensor p = parts.get(k);
                        assertEquals(ce.get("dtype").asText(), p.dtype().pythonName(), where + " " + k + " dtype");
                        assertArrayEquals(longs(ce.get("shape")), p.shape().toArray(), where + " " + k + " shape");
                        assertEquals(ce.get("sha256").asText(), sha256(p), where + " " + k + " sha256");
                    }
                }
                if (e.has("coalesced")) {
                    assertEquals(e.get("coalesced").asBoolean(), t.isCoalesced(), where + " coalesced");
                }
                if (e.has("nested_sizes")) {
                    long[] sizes = t.components().get("sizes").toLongArray();
                    List<Long> flat = new ArrayList<>();
                    for (JsonNode s : e.get("nested_sizes")) {
                        for (JsonNode d : s) {
                            flat.add(d.asLong());
                        }
                    }
                    assertArrayEquals(flat.stream().mapToLong(Long::longValue).toArray(), sizes, where + " nested sizes");
                }
            }
        }
    }

    private static void quantization(JsonNode e, Tensor t, String where) {
        Quantization q = t.quantization().orElseThrow(() -> new AssertionError(where + " is not quantized"));
        assertEquals(e.get("qscheme").asText(), q.scheme().pythonName(), where + " qscheme");
        if (q instanceof Quantization.PerTensor p) {
            assertEquals(e.get("scale").asDouble(), p.scale(), where + " scale");
            assertEquals(e.get("zero_point").asLong(), p.zeroPoint(), where + " zero_point");
        } else {
            Quantization.PerChannel p = (Quantization.PerChannel) q;
            assertEquals(e.get("axis").asInt(), p.axis(), where + " axis");
            assertEquals(e.get("scales_dtype").asText(), p.scales().dtype().pythonName(), where + " scales dtype");
            assertEquals(e.get("zero_points_dtype").asText(), p.zeroPoints().dtype().pythonName(),
                    where + " zero_points dtype");
            assertArrayEquals(doubles(e.get("scales")), p.scales().toDoubleArray(), where + " scales");
            double[] zp = p.zeroPoints().dtype().family() == io.torchbridge.reader.DType.Family.FLOAT
                    ? p.zeroPoints().toDoubleArray()
                    : java.util.Arrays.stream(p.zeroPoints().toLongArray()).asDoubleStream().toArray();
            assertArrayEquals(doubles(e.get("zero_points")), zp, where + " zero_points");
        }
        if (e.has("stride")) {
            assertArrayEquals(longs(e.get("stride")), t.info().stride().toArray(), where + " stride");
            assertEquals(e.get("storage_offset").asLong(), t.info().storageOffset(), where + " storage_offset");
        }
        float[] deq = t.toDequantizedFloatArray();
        double[] expected = doubles(e.get("dequantized"));
        assertEquals(expected.length, deq.length, where + " dequantized count");
        for (int i = 0; i < deq.length; i++) {
            // torch's vectorized kernels may fuse multiply and add: allow one float32 rounding step
            float want = (float) expected[i];
            assertTrue(Math.abs(want - deq[i]) <= Math.ulp(Math.max(Math.abs(want), Math.abs(deq[i]))),
                    where + " dequantized[" + i + "] " + deq[i] + " vs torch's " + want);
        }
    }

    static String sha256(Tensor t) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        t.stream(md::update);
        return HexFormat.of().formatHex(md.digest());
    }

    static long[] longs(JsonNode a) {
        long[] out = new long[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).asLong();
        }
        return out;
    }

    static double[] doubles(JsonNode a) {
        double[] out = new double[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).asDouble();
        }
        return out;
    }
}
