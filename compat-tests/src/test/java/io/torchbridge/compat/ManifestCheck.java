package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.DType;
import io.torchbridge.reader.PyDict;
import io.torchbridge.reader.PyTuple;
import io.torchbridge.reader.ReadOptions;
import io.torchbridge.reader.Tensor;
import io.torchbridge.reader.TensorInfo;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Compares what the reader returns for a file with the manifest real PyTorch wrote for it: every
 * tensor (layout, storage, sha256 of the logical values, leading values) and every node of the
 * object tree. The expected side is PyTorch's alone.
 */
final class ManifestCheck {
    private ManifestCheck() {
    }

    static void check(Manifest m) throws Exception {
        check(m, ReadOptions.defaults());
    }

    static void check(Manifest m, ReadOptions options) throws Exception {
        try (Checkpoint ckpt = Checkpoint.open(m.file(), options)) {
            assertEquals(m.json().get("format").asText(), ckpt.format().label(), "format");
            checkTensors(m, ckpt);
            checkValues(m, ckpt);
        }
    }

    private static void checkTensors(Manifest m, Checkpoint ckpt) throws Exception {
        List<String> expectedNames = new ArrayList<>();
        for (JsonNode t : m.tensors()) {
            expectedNames.add(t.get("name").asText());
        }
        assertEquals(expectedNames, ckpt.names(), "tensor names in file order");
        for (JsonNode t : m.tensors()) {
            String name = t.get("name").asText();
            Tensor tensor = ckpt.tensor(name);
            TensorInfo info = tensor.info();
            String where = m.file().getFileName() + ": " + name;
            assertEquals(t.get("dtype").asText(), info.dtype().pythonName(), where + " dtype");
            assertArrayEquals(longs(t.get("shape")), info.shape().toArray(), where + " shape");
            assertArrayEquals(longs(t.get("stride")), info.stride().toArray(), where + " stride");
            assertEquals(t.get("storage_offset").asLong(), info.storageOffset(), where + " storage_offset");
            // A TorchScript manifest has no keys: torch.jit.load's tensors do not know their record.
            if (t.has("storage_key")) {
                assertEquals(t.get("storage_key").asText(), info.storage().key(), where + " storage key");
                assertEquals(t.get("storage_location").asText(), info.storage().location(), where + " location");
            }
            assertEquals(t.get("storage_nbytes").asLong(), info.storage().nbytes(), where + " storage nbytes");
            assertEquals(t.get("requires_grad").asBoolean(), info.requiresGrad(), where + " requires_grad");
            assertEquals(t.get("is_parameter").asBoolean(), info.parameter(), where + " is_parameter");
            assertEquals(t.get("conj").asBoolean(), info.conj(), where + " conj");
            assertEquals(t.get("neg").asBoolean(), info.neg(), where + " neg");
            assertEquals(t.get("sha256").asText(), sha256(tensor), where + " sha256 of logical values");
            checkHead(where, tensor, t.get("head"));
        }
    }

    static String sha256(Tensor t) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        t.stream(md::update);
        return HexFormat.of().formatHex(md.digest());
    }

    /** The first values, decoded by the reader's typed accessors, against torch's own repr. */
    private static void checkHead(String where, Tensor t, JsonNode head) {
        if (head == null || head.size() == 0) {
            return;
        }
        DType d = t.dtype();
        int n = head.size();
        switch (d.family()) {
            case FLOAT -> {
                double[] v = t.toDoubleArray();
                for (int i = 0; i < n; i++) {
                    assertFloat(where + "[" + i + "]", head.get(i).asText(), v[i]);
                }
            }
            case SIGNED, UNSIGNED -> {
                long[] v = t.toLongArray();
                for (int i = 0; i < n; i++) {
                    BigInteger expected = new BigInteger(head.get(i).asText());
                    BigInteger actual = d == DType.UINT64 ? new BigInteger(Long.toUnsignedString(v[i]))
                            : BigInteger.valueOf(v[i]);
                    assertEquals(expected, actual, where + "[" + i + "]");
                }
            }
            case BOOL -> {
                boolean[] v = t.toBooleanArray();
                for (int i = 0; i < n; i++) {
                    assertEquals(head.get(i).asBoolean(), v[i], where + "[" + i + "]");
                }
            }
            case COMPLEX -> {
                ByteBuffer b = ByteBuffer.wrap(t.toByteArray()).order(ByteOrder.LITTLE_ENDIAN);
                int half = d.itemSize() / 2;
                for (int i = 0; i < n; i++) {
                    for (int k = 0; k < 2; k++) {
                        int pos = i * d.itemSize() + k * half;
                        double x = switch (half) {
                            case 8 -> b.getDouble(pos);
                            case 4 -> b.getFloat(pos);
                            default -> halfToDouble(b.getShort(pos));
                        };
                        assertFloat(where + "[" + i + "]." + (k == 0 ? "re" : "im"), head.get(i).get(k).asText(), x);
                    }
                }
            }
            default -> {
                // packed and quantized kinds: sha256 covers them
            }
        }
    }

    /** IEEE half to double, written independently of the reader's decoder. */
    private static double halfToDouble(short s) {
        int bits = s & 0xFFFF;
        int sign = bits >> 15;
        int exp = (bits >> 10) & 0x1F;
        int man = bits & 0x3FF;
        double v = exp == 0 ? man * Math.pow(2, -24)
                : exp == 31 ? (man == 0 ? Double.POSITIVE_INFINITY : Double.NaN)
                : (1 + man / 1024.0) * Math.pow(2, exp - 15);
        return sign == 1 ? -v : v;
    }

    private static void assertFloat(String where, String pythonRepr, double actual) {
        double expected = switch (pythonRepr) {
            case "nan", "-nan" -> Double.NaN;
            case "inf" -> Double.POSITIVE_INFINITY;
            case "-inf" -> Double.NEGATIVE_INFINITY;
            default -> Double.parseDouble(pythonRepr);
        };
        if (Double.isNaN(expected)) {
            assertTrue(Double.isNaN(actual), where + ": expected nan, got " + actual);
        } else {
            // Bit equality, so that -0.0 and 0.0 differ.
            assertEquals(Double.doubleToLongBits(expected), Double.doubleToLongBits(actual),
                    where + ": expected " + pythonRepr + ", got " + actual);
        }
    }

    private static void checkValues(Manifest m, Checkpoint ckpt) {
        for (JsonNode v : m.values()) {
            String name = v.get("name").asText();
            String where = m.file().getFileName() + ": value '" + name + "'";
            assertTrue(ckpt.has(name), where + " is missing");
            Object actual = ckpt.value(name);
            String type = v.get("type").asText();
            switch (type) {
                case "int" -> assertEquals(new BigInteger(v.get("value").asText()), bigInt(actual, where), where);
                case "float" -> assertFloat(where, v.get("value").asText(), assertInstanceOf(Double.class, actual, where));
                case "str" -> assertEquals(v.get("value").asText(), actual, where);
                case "none" -> assertNull(actual, where);
                case "bool" -> assertEquals(v.get("value").asBoolean(), actual, where);
                case "bytes" -> assertEquals(v.get("value").asText(),
                        HexFormat.of().formatHex(assertInstanceOf(byte[].class, actual, where)), where);
                case "list" -> assertEquals(v.get("len").asInt(), assertInstanceOf(List.class, actual, where).size(), where);
                case "tuple" -> assertEquals(v.get("len").asInt(), assertInstanceOf(PyTuple.class, actual, where).size(), where);
                case "tensor" -> assertInstanceOf(Tensor.class, actual, where);
                case "dict" -> checkDict(where, v, assertInstanceOf(PyDict.class, actual, where));
                default -> fail(where + ": the manifest has a value type this test does not know: " + type);
            }
        }
    }

    private static void checkDict(String where, JsonNode v, PyDict d) {
        String cls = v.get("class").asText();
        assertEquals(cls.equals("dict") ? PyDict.DICT : cls, d.pythonClass(), where + " class");
        List<String> expected = new ArrayList<>();
        for (JsonNode k : v.get("keys")) {
            expected.add(k.get(0).asText() + ":" + k.get(1).asText());
        }
        List<String> actual = new ArrayList<>();
        for (Object k : d.items().keySet()) {
            actual.add(pyType(k) + ":" + pyStr(k));
        }
        assertEquals(expected, actual, where + " keys in order");
        JsonNode meta = v.get("metadata");
        if (meta != null) {
            PyDict md = d.metadata().orElseThrow(() -> new AssertionError(where + " has no _metadata"));
            assertJsonEquals(where + "._metadata", meta, md);
        } else {
            assertTrue(d.metadata().isEmpty(), where + " has a _metadata the manifest lacks");
        }
    }

    private static void assertJsonEquals(String where, JsonNode expected, Object actual) {
        if (expected.isObject()) {
            PyDict d = assertInstanceOf(PyDict.class, actual, where);
            assertEquals(expected.size(), d.size(), where + " size");
            Iterator<Map.Entry<String, JsonNode>> it = expected.fields();
            Iterator<Map.Entry<Object, Object>> act = d.items().entrySet().iterator();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                Map.Entry<Object, Object> a = act.next();
                assertEquals(e.getKey(), a.getKey(), where + " key order");
                assertJsonEquals(where + "." + e.getKey(), e.getValue(), a.getValue());
            }
        } else if (expected.isIntegralNumber()) {
            assertEquals(expected.bigIntegerValue(), bigInt(actual, where), where);
        } else if (expected.isBoolean()) {
            assertEquals(expected.asBoolean(), actual, where);
        } else if (expected.isTextual()) {
            assertEquals(expected.asText(), actual, where);
        } else if (expected.isNull()) {
            assertNull(actual, where);
        } else {
            fail(where + ": unexpected manifest node " + expected);
        }
    }

    private static BigInteger bigInt(Object o, String where) {
        if (o instanceof Long l) {
            return BigInteger.valueOf(l);
        } else if (o instanceof BigInteger b) {
            assertTrue(b.bitLength() >= 64, where + ": a BigInteger that fits a long should be a Long");
            return b;
        }
        throw new AssertionError(where + ": expected an int, got " + (o == null ? "None" : o.getClass().getSimpleName()));
    }

    private static String pyType(Object k) {
        if (k instanceof String) {
            return "str";
        } else if (k instanceof Long || k instanceof BigInteger) {
            return "int";
        } else if (k instanceof PyTuple) {
            return "tuple";
        } else if (k instanceof Double) {
            return "float";
        } else if (k instanceof Boolean) {
            return "bool";
        } else if (k == null) {
            return "NoneType";
        }
        return k.getClass().getSimpleName();
    }

    /** Python's str() of a key, written independently of the reader's naming. */
    private static String pyStr(Object k) {
        if (k instanceof PyTuple t) {
            StringBuilder sb = new StringBuilder("(");
            for (int i = 0; i < t.size(); i++) {
                sb.append(i > 0 ? ", " : "");
                Object o = t.get(i);
                sb.append(o instanceof String s ? "'" + s + "'" : pyStr(o));
            }
            return sb.append(t.size() == 1 ? ",)" : ")").toString();
        } else if (k instanceof Boolean b) {
            return b ? "True" : "False";
        } else if (k == null) {
            return "None";
        }
        return String.valueOf(k);
    }

    static long[] longs(JsonNode arr) {
        long[] out = new long[arr.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = arr.get(i).asLong();
        }
        return out;
    }
}
