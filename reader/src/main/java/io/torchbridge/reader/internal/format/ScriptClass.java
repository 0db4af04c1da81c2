package io.torchbridge.reader.internal.format;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.CheckpointException.Kind;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What a TorchScript archive's code declares about one class, read as text and never run: its
 * attributes in order (the object's slots), which of them are parameters and buffers, whether it
 * is a module, and whether it restores itself with {@code __setstate__}.
 *
 * <p>The code is what torch's python printer writes (torch/csrc/jit/serialization/python_print.cpp)
 * and its importer reads (import_source.cpp, importClass): a class at column 0, and at its body's
 * indent {@code __parameters__ = ["w", ]}, {@code __buffers__ = [...]}, one {@code name : Type}
 * per attribute, {@code __annotations__["0"] = Type} for a name that is not an identifier,
 * {@code name : Final[T] = value} for a constant (not a slot), and methods ({@code def}, whose
 * bodies are indented deeper).
 *
 * @param attributes the attribute names in declaration order: the order of the object's slots
 * @param parameters the names listed in {@code __parameters__}
 * @param buffers    the names listed in {@code __buffers__}
 */
record ScriptClass(String name, boolean module, List<String> attributes, Set<String> parameters,
                   Set<String> buffers, boolean setState) {

    /**
     * Every class {@code source} (the record {@code record}) defines, by simple name. Refuses
     * declarations it cannot read exactly rather than guess.
     */
    static Map<String, ScriptClass> parse(String source, String record) throws CheckpointException {
        Map<String, ScriptClass> out = new LinkedHashMap<>();
        String[] lines = source.split("\n", -1);
        int i = 0;
        while (i < lines.length) {
            String line = stripCr(lines[i]);
            if (!line.startsWith("class ")) {
                i++;
                continue;
            }
            int lineNo = i + 1;
            String header = line.substring("class ".length()).strip();
            if (!header.endsWith(":")) { // safety: torchscript-class-header
                throw malformed(record, lineNo, "class header does not end with ':'");
            }
            header = header.substring(0, header.length() - 1).strip();
            String name = header;
            String base = "";
            int paren = header.indexOf('(');
            if (paren >= 0) {
                if (!header.endsWith(")")) {
                    throw malformed(record, lineNo, "class header has an unclosed '('");
                }
                name = header.substring(0, paren).strip();
                base = header.substring(paren + 1, header.length() - 1).strip();
            }
            if (!identifier(name)) {
                throw malformed(record, lineNo, "class name '" + name + "' is not an identifier");
            }
            i++;
            List<String> attributes = new ArrayList<>();
            Set<String> parameters = null;
            Set<String> buffers = null;
            boolean setState = false;
            String indent = null;
            for (; i < lines.length; i++) {
                String l = stripCr(lines[i]);
                if (l.isBlank()) {
                    continue;
                }
                if (!Character.isWhitespace(l.charAt(0))) {
                    break; // the next top-level statement ends the class
                }
                if (indent == null) {
                    indent = l.substring(0, l.length() - l.stripLeading().length());
                }
                if (!l.startsWith(indent)) { // safety: torchscript-class-indent
                    throw malformed(record, i + 1, "a line is indented less than the class body");
                }
                if (Character.isWhitespace(l.charAt(indent.length()))) {
                    continue; // inside a method, or a continued signature
                }
                String st = l.substring(indent.length()).strip();
                if (st.startsWith("def ")) {
                    if (st.startsWith("def __setstate__(")) {
                        setState = true;
                    }
                } else if (st.startsWith("@")) {
                    continue; // a method's decorator
                } else if (st.startsWith("__parameters__")) {
                    if (parameters != null) { // safety: torchscript-declared-once
                        throw malformed(record, i + 1, "class " + name + " declares __parameters__ twice");
                    }
                    parameters = nameList(st, "__parameters__", record, i + 1);
                } else if (st.startsWith("__buffers__")) {
                    if (buffers != null) {
                        throw malformed(record, i + 1, "class " + name + " declares __buffers__ twice");
                    }
                    buffers = nameList(st, "__buffers__", record, i + 1);
                } else if (st.startsWith("__forward_pre_hooks__") || st.startsWith("__forward_hooks__")
                        || st.equals("__annotations__ = []")) {
                    continue; // hooks run code; the annotations dict's initialiser declares nothing
                } else if (st.startsWith("__annotations__[")) {
                    attributes.add(subscriptName(st, record, i + 1));
                } else if (!base.equals("Module") && !st.contains(":")) {
                    continue; // an Enum's `NAME = value`: not a module, so nothing the state_dict needs
                } else {
                    int colon = st.indexOf(':');
                    if (colon <= 0) { // safety: torchscript-statement
                        throw malformed(record, i + 1, "cannot read the class body statement '" + shorten(st) + "'");
                    }
                    String attr = st.substring(0, colon).strip();
                    if (!identifier(attr)) {
                        throw malformed(record, i + 1, "attribute name '" + shorten(attr) + "' is not an identifier");
                    }
                    if (!st.substring(colon + 1).contains("=")) {
                        attributes.add(attr); // `name : Type`; `name : Final[T] = v` is a constant, no slot
                    }
                }
            }
            Set<String> declared = new LinkedHashSet<>(attributes);
            if (declared.size() != attributes.size()) { // safety: torchscript-attribute-unique
                throw malformed(record, lineNo, "class " + name + " declares an attribute twice: " + attributes);
            }
            boolean module = base.equals("Module");
            if (module && (parameters == null || buffers == null)) { // safety: torchscript-module-declarations
                throw malformed(record, lineNo, "module class " + name
                        + " lacks its __parameters__ or __buffers__ declaration");
            }
            parameters = parameters == null ? Set.of() : parameters;
            buffers = buffers == null ? Set.of() : buffers;
            for (String p : concat(parameters, buffers)) {
                if (!declared.contains(p)) { // safety: torchscript-member-declared
                    throw malformed(record, lineNo, "class " + name + " lists '" + p + "' as a parameter or "
                            + "buffer but declares no such attribute");
                }
            }
            if (out.putIfAbsent(name, new ScriptClass(name, module, List.copyOf(attributes), parameters, buffers,
                    setState)) != null) {
                throw malformed(record, lineNo, "class " + name + " is defined twice");
            }
        }
        return out;
    }

    private static List<String> concat(Set<String> a, Set<String> b) {
        List<String> l = new ArrayList<>(a);
        l.addAll(b);
        return l;
    }

    /** {@code NAME = ["a", "b", ]}: a list literal of string literals. */
    private static Set<String> nameList(String st, String what, String record, int line) throws CheckpointException {
        String rest = st.substring(what.length()).strip();
        if (!rest.startsWith("=")) {
            throw malformed(record, line, what + " is not assigned a list");
        }
        rest = rest.substring(1).strip();
        if (!rest.startsWith("[") || !rest.endsWith("]")) { // safety: torchscript-name-list
            throw malformed(record, line, what + " is not a list literal: '" + shorten(rest) + "'");
        }
        String body = rest.substring(1, rest.length() - 1);
        Set<String> names = new LinkedHashSet<>();
        int p = 0;
        while (true) {
            while (p < body.length() && body.charAt(p) == ' ') {
                p++;
            }
            if (p == body.length()) {
                break;
            }
            int[] end = new int[1];
            names.add(stringLiteral(body, p, end, record, line));
            p = end[0];
            while (p < body.length() && body.charAt(p) == ' ') {
                p++;
            }
            if (p < body.length()) {
                if (body.charAt(p) != ',') {
                    throw malformed(record, line, what + ": expected ',' between names");
                }
                p++;
            }
        }
        return names;
    }

    /** {@code __annotations__["0"] = Type}: the subscript's string. */
    private static String subscriptName(String st, String record, int line) throws CheckpointException {
        int[] end = new int[1];
        String name = stringLiteral(st, "__annotations__[".length(), end, record, line);
        if (end[0] >= st.length() || st.charAt(end[0]) != ']' || !st.substring(end[0] + 1).strip().startsWith("=")) {
            throw malformed(record, line, "cannot read the annotation '" + shorten(st) + "'");
        }
        return name;
    }

    /** A quoted string at {@code from} without escapes (python_print quotes plain names only). */
    private static String stringLiteral(String s, int from, int[] end, String record, int line)
            throws CheckpointException {
        if (from >= s.length() || (s.charAt(from) != '"' && s.charAt(from) != '\'')) {
            throw malformed(record, line, "expected a string literal in '" + shorten(s) + "'");
        }
        char q = s.charAt(from);
        int close = s.indexOf(q, from + 1);
        if (close < 0) { // safety: torchscript-string-closed
            throw malformed(record, line, "unterminated string literal in '" + shorten(s) + "'");
        }
        String v = s.substring(from + 1, close);
        if (v.indexOf('\\') >= 0) {
            throw CheckpointException.at(Kind.UNSUPPORTED, record, -1, "line " + line
                    + ": a name with escapes in a string literal");
        }
        end[0] = close + 1;
        return v;
    }

    private static boolean identifier(String s) {
        if (s.isEmpty() || !Character.isJavaIdentifierStart(s.charAt(0)) || s.charAt(0) == '$') {
            return false;
        }
        for (int i = 1; i < s.length(); i++) {
            if (!Character.isJavaIdentifierPart(s.charAt(i)) || s.charAt(i) == '$') {
                return false;
            }
        }
        return true;
    }

    private static String stripCr(String l) {
        return l.endsWith("\r") ? l.substring(0, l.length() - 1) : l;
    }

    private static String shorten(String s) {
        return s.length() <= 80 ? s : s.substring(0, 77) + "...";
    }

    private static CheckpointException malformed(String record, int line, String detail) {
        return CheckpointException.at(Kind.MALFORMED, record, -1, "line " + line + ": " + detail);
    }
}
