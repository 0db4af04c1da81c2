package io.torchbridge.reader.internal.format;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.CheckpointException.Kind;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A strict JSON reader (RFC 8259) for one small document ({@code model.json}, a safetensors header): objects become
 * ordered maps, arrays lists, numbers {@link BigDecimal}, and the rest String, Boolean or null.
 * Nesting is bounded, a key given twice is refused, and so is anything after the value.
 */
final class Json {
    private final String s;
    private final String record;
    private final int maxDepth;
    /** Where each key of the top-level object starts (a char index), for errors that name an entry; or null. */
    private final Map<String, Integer> topKeys;
    private int p;

    private Json(String s, String record, int maxDepth, Map<String, Integer> topKeys) {
        this.s = s;
        this.record = record;
        this.maxDepth = maxDepth;
        this.topKeys = topKeys;
    }

    static Object parse(String text, String record, int maxDepth) throws CheckpointException {
        return parse(text, record, maxDepth, null);
    }

    /** As above; where {@code topKeys} is not null, it gets the char index of each key of the top-level object. */
    static Object parse(String text, String record, int maxDepth, Map<String, Integer> topKeys)
            throws CheckpointException {
        Json j = new Json(text, record, maxDepth, topKeys);
        j.space();
        Object v = j.value(0);
        j.space();
        if (j.p != text.length()) { // safety: json-trailing
            throw j.error("text after the JSON value");
        }
        return v;
    }

    private Object value(int depth) throws CheckpointException {
        if (depth > maxDepth) { // safety: json-depth
            throw CheckpointException.at(Kind.LIMIT_EXCEEDED, record, p, "JSON nests deeper than " + maxDepth
                    + " levels (ReadOptions.maxNesting)");
        }
        if (p >= s.length()) {
            throw error("the JSON ends where a value belongs");
        }
        char c = s.charAt(p);
        switch (c) {
            case '{' -> {
                p++;
                Map<String, Object> m = new LinkedHashMap<>();
                space();
                if (peek() == '}') {
                    p++;
                    return m;
                }
                while (true) {
                    space();
                    if (peek() != '"') {
                        throw error("expected a string key");
                    }
                    int keyAt = p;
                    String k = string();
                    space();
                    expect(':');
                    space();
                    Object v = value(depth + 1);
                    if (m.containsKey(k)) { // safety: json-duplicate-key
                        throw error("key \"" + k + "\" appears twice in one object");
                    }
                    m.put(k, v);
                    if (depth == 0 && topKeys != null) {
                        topKeys.put(k, keyAt);
                    }
                    space();
                    if (peek() == ',') {
                        p++;
                    } else {
                        expect('}');
                        return m;
                    }
                }
            }
            case '[' -> {
                p++;
                List<Object> l = new ArrayList<>();
                space();
                if (peek() == ']') {
                    p++;
                    return l;
                }
                while (true) {
                    space();
                    l.add(value(depth + 1));
                    space();
                    if (peek() == ',') {
                        p++;
                    } else {
                        expect(']');
                        return l;
                    }
                }
            }
            case '"' -> {
                return string();
            }
            case 't' -> {
                word("true");
                return Boolean.TRUE;
            }
            case 'f' -> {
                word("false");
                return Boolean.FALSE;
            }
            case 'n' -> {
                word("null");
                return null;
            }
            default -> {
                return number();
            }
        }
    }

    private char peek() {
        return p < s.length() ? s.charAt(p) : '\0';
    }

    private void expect(char c) throws CheckpointException {
        if (peek() != c) {
            throw error("expected '" + c + "'");
        }
        p++;
    }

    private void word(String w) throws CheckpointException {
        if (!s.startsWith(w, p)) {
            throw error("expected " + w);
        }
        p += w.length();
    }

    private void space() {
        while (p < s.length() && (s.charAt(p) == ' ' || s.charAt(p) == '\t' || s.charAt(p) == '\n'
                || s.charAt(p) == '\r')) {
            p++;
        }
    }

    private String string() throws CheckpointException {
        p++; // the opening quote
        StringBuilder b = new StringBuilder();
        while (true) {
            if (p >= s.length()) { // safety: json-string-closed
                throw error("unterminated string");
            }
            char c = s.charAt(p++);
            if (c == '"') {
                return b.toString();
            } else if (c == '\\') {
                if (p >= s.length()) {
                    throw error("unterminated escape");
                }
                char e = s.charAt(p++);
                switch (e) {
                    case '"', '\\', '/' -> b.append(e);
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'n' -> b.append('\n');
                    case 'r' -> b.append('\r');
                    case 't' -> b.append('\t');
                    case 'u' -> {
                        if (p + 4 > s.length()) {
                            throw error("short \\u escape");
                        }
                        try {
                            b.append((char) Integer.parseInt(s.substring(p, p + 4), 16));
                        } catch (NumberFormatException ex) {
                            throw error("bad \\u escape");
                        }
                        p += 4;
                    }
                    default -> throw error("bad escape \\" + e);
                }
            } else if (c < 0x20) {
                throw error("a control character in a string");
            } else {
                b.append(c);
            }
        }
    }

    private BigDecimal number() throws CheckpointException {
        int start = p;
        if (peek() == '-') {
            p++;
        }
        while (p < s.length() && "0123456789.eE+-".indexOf(s.charAt(p)) >= 0) {
            p++;
        }
        String n = s.substring(start, p);
        if (n.isEmpty() || n.equals("-") || n.length() > 400) {
            throw error("not a JSON value");
        }
        try {
            return new BigDecimal(n);
        } catch (NumberFormatException ex) {
            throw error("bad number '" + n + "'");
        }
    }

    private CheckpointException error(String detail) {
        return CheckpointException.at(Kind.MALFORMED, record, p, detail);
    }
}
