package io.torchbridge.reader;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.Locale;

/**
 * Python's {@code str()} of dict keys, so flattened names match what Python code prints
 * ({@code ('a', 1)}, {@code 1e-05}, {@code True}).
 */
final class PyRepr {
    private PyRepr() {
    }

    static String key(Object k) {
        if (k instanceof String s) {
            return s;
        }
        return repr(k);
    }

    static String repr(Object o) {
        if (o == null) {
            return "None";
        } else if (o instanceof Boolean b) {
            return b ? "True" : "False";
        } else if (o instanceof Long || o instanceof BigInteger) {
            return o.toString();
        } else if (o instanceof Double d) {
            return floatRepr(d);
        } else if (o instanceof String s) {
            return stringRepr(s);
        } else if (o instanceof PyTuple t) {
            StringBuilder sb = new StringBuilder("(");
            for (int i = 0; i < t.size(); i++) {
                if (i > 0) {
                    sb.append(", ");
                }
                sb.append(repr(t.get(i)));
            }
            if (t.size() == 1) {
                sb.append(',');
            }
            return sb.append(')').toString();
        } else if (o instanceof PyGlobal g) {
            return g.fullName();
        }
        return String.valueOf(o);
    }

    /** CPython's float repr: shortest round-trip digits, exponent form outside [1e-4, 1e16). */
    static String floatRepr(double d) {
        if (Double.isNaN(d)) {
            return "nan";
        } else if (Double.isInfinite(d)) {
            return d > 0 ? "inf" : "-inf";
        } else if (d == 0) {
            return (1 / d < 0) ? "-0.0" : "0.0";
        }
        BigDecimal v = new BigDecimal(Double.toString(Math.abs(d))).stripTrailingZeros();
        String digits = v.unscaledValue().toString();
        int exp = digits.length() - 1 - v.scale();
        String sign = d < 0 ? "-" : "";
        if (exp >= -5 && exp < 16) {
            String plain = v.toPlainString();
            return sign + (plain.contains(".") ? plain : plain + ".0");
        }
        String mant = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
        return sign + mant + "e" + (exp < 0 ? "-" : "+") + String.format(Locale.ROOT, "%02d", Math.abs(exp));
    }

    private static String stringRepr(String s) {
        boolean useDouble = s.indexOf('\'') >= 0 && s.indexOf('"') < 0;
        char q = useDouble ? '"' : '\'';
        StringBuilder sb = new StringBuilder().append(q);
        for (char c : s.toCharArray()) {
            if (c == q || c == '\\') {
                sb.append('\\').append(c);
            } else if (c == '\n') {
                sb.append("\\n");
            } else if (c == '\t') {
                sb.append("\\t");
            } else if (c == '\r') {
                sb.append("\\r");
            } else {
                sb.append(c);
            }
        }
        return sb.append(q).toString();
    }
}
