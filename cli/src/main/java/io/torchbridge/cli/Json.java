package io.torchbridge.cli;

import java.util.Iterator;
import java.util.List;
import java.util.Map;

/** Minimal JSON output for the stable {@code inspect --json} contract: maps, lists, strings, numbers. */
final class Json {
    private Json() {
    }

    static String write(Object value) {
        StringBuilder sb = new StringBuilder();
        write(sb, value);
        return sb.toString();
    }

    private static void write(StringBuilder sb, Object v) {
        if (v == null) {
            sb.append("null");
        } else if (v instanceof String s) {
            string(sb, s);
        } else if (v instanceof Number || v instanceof Boolean || v instanceof ValueJson.Raw) {
            sb.append(v);
        } else if (v instanceof long[] a) {
            sb.append('[');
            for (int i = 0; i < a.length; i++) {
                sb.append(i > 0 ? "," : "").append(a[i]);
            }
            sb.append(']');
        } else if (v instanceof Map<?, ?> m) {
            sb.append('{');
            Iterator<? extends Map.Entry<?, ?>> it = m.entrySet().iterator();
            while (it.hasNext()) {
                Map.Entry<?, ?> e = it.next();
                string(sb, String.valueOf(e.getKey()));
                sb.append(':');
                write(sb, e.getValue());
                if (it.hasNext()) {
                    sb.append(',');
                }
            }
            sb.append('}');
        } else if (v instanceof List<?> l) {
            sb.append('[');
            for (int i = 0; i < l.size(); i++) {
                if (i > 0) {
                    sb.append(',');
                }
                write(sb, l.get(i));
            }
            sb.append(']');
        } else {
            string(sb, v.toString());
        }
    }

    /**
     * A finite double as Python's {@code repr} writes it ({@code 0.001}, {@code 1e-05}, {@code 1.0}),
     * which is also valid JSON and keeps a float apart from an int.
     */
    static String pythonFloat(double d) {
        if (d == 0) {
            return (1 / d < 0) ? "-0.0" : "0.0";
        }
        // the fewest significant digits that read back as d, rounded from its exact value: what
        // Python's repr prints (Java 17's Double.toString is not always the shortest, e.g. 4.9E-324)
        java.math.BigDecimal exact = new java.math.BigDecimal(Math.abs(d));
        java.math.BigDecimal v = exact;
        for (int p = 1; p <= 17; p++) {
            java.math.BigDecimal r = exact.round(new java.math.MathContext(p, java.math.RoundingMode.HALF_EVEN));
            if (r.doubleValue() == Math.abs(d)) {
                v = r;
                break;
            }
        }
        v = v.stripTrailingZeros();
        String digits = v.unscaledValue().toString();
        int exp = digits.length() - 1 - v.scale();
        String sign = d < 0 ? "-" : "";
        if (exp >= -5 && exp < 16) {
            String plain = v.toPlainString();
            return sign + (plain.contains(".") ? plain : plain + ".0");
        }
        String mant = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
        return sign + mant + "e" + (exp < 0 ? "-" : "+") + String.format(java.util.Locale.ROOT, "%02d", Math.abs(exp));
    }

    private static void string(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20 || Character.isSurrogate(c)) {
                        // Lone surrogates (legal in Python strs) must not reach the output raw.
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }
}
