package io.torchbridge.cli;

import io.torchbridge.reader.PyComplex;
import io.torchbridge.reader.PyDict;
import io.torchbridge.reader.PyGlobal;
import io.torchbridge.reader.PyObject;
import io.torchbridge.reader.PyTuple;
import io.torchbridge.reader.StorageInfo;
import io.torchbridge.reader.Tensor;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Python values as JSON for {@code inspect --values} (README, "inspect --json contract"): what JSON
 * has maps to itself, every other type to a one-key object whose key starts with {@code $}, so
 * that no Python value is mistaken for another ({@code 'nan'} the string stays a string).
 */
final class ValueJson {
    private ValueJson() {
    }

    static Object of(Object v) {
        if (v == null || v instanceof String || v instanceof Boolean || v instanceof Long || v instanceof BigInteger) {
            return v;
        } else if (v instanceof Double d) {
            if (Double.isNaN(d) || Double.isInfinite(d)) {
                return tagged("$float", Double.isNaN(d) ? "nan" : d > 0 ? "inf" : "-inf");
            }
            return new Raw(Json.pythonFloat(d));
        } else if (v instanceof byte[] b) {
            return tagged("$bytes", Base64.getEncoder().encodeToString(b));
        } else if (v instanceof PyComplex c) {
            return tagged("$complex", List.of(of(c.real()), of(c.imag())));
        } else if (v instanceof PyTuple t) {
            return list(t.items());
        } else if (v instanceof List<?> l) {
            return list(l);
        } else if (v instanceof Set<?> s) {
            return tagged("$set", list(new ArrayList<>(s)));
        } else if (v instanceof PyDict d) {
            Map<String, Object> m = new LinkedHashMap<>();
            d.items().forEach((k, x) -> m.put(k instanceof String s ? s : String.valueOf(of(k)), of(x)));
            return m;
        } else if (v instanceof PyGlobal g) {
            return tagged("$global", g.fullName());
        } else if (v instanceof PyObject o) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("$object", o.callable().fullName());
            m.put("args", list(o.args().items()));
            if (o.state() != null) {
                m.put("state", of(o.state()));
            }
            return m;
        } else if (v instanceof Tensor t) {
            return tagged("$tensor", t.name());
        } else if (v instanceof StorageInfo s) {
            return tagged("$storage", s.key());
        }
        return tagged("$repr", String.valueOf(v));
    }

    private static List<Object> list(List<?> items) {
        List<Object> out = new ArrayList<>(items.size());
        for (Object o : items) {
            out.add(of(o));
        }
        return out;
    }

    private static Map<String, Object> tagged(String key, Object value) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put(key, value);
        return m;
    }

    /** A number written as its text, unquoted. */
    record Raw(String text) {
        @Override
        public String toString() {
            return text;
        }
    }
}
