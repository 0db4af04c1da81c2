package io.torchbridge.reader.internal.pickle;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A static walk over a pickle's opcodes, running nothing and building nothing: which globals it
 * names (GLOBAL, INST, and STACK_GLOBAL resolved from the strings pushed before it, as picklescan
 * does) and which opcodes it uses. Tolerates any bytes: a malformed pickle ends the walk with an
 * error note.
 */
public final class PickleScanner {
    /** The opcodes torch 2.14's weights_only unpickler implements ({@code torch/_weights_only_unpickler.py, load}). */
    public static final Set<String> TORCH_OPCODES = Set.of("GLOBAL", "NEWOBJ", "REDUCE", "BUILD", "APPEND",
            "APPENDS", "SETITEM", "SETITEMS", "MARK", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "NONE", "NEWFALSE",
            "NEWTRUE", "EMPTY_TUPLE", "EMPTY_LIST", "EMPTY_DICT", "EMPTY_SET", "BININT", "BININT1", "BININT2",
            "BINFLOAT", "BINUNICODE", "SHORT_BINSTRING", "BINPERSID", "BINGET", "LONG_BINGET", "BINPUT",
            "LONG_BINPUT", "LONG1", "PROTO", "STOP");

    /** One global reference: its name (builtins spelled as Python 3 does) and the opcode's offset. */
    public record GlobalRef(String module, String name, long offset, String opcode) {
        public String fullName() {
            return module + "." + name;
        }
    }

    /**
     * What the walk found. {@code error} is null when the pickle was walked to its STOP;
     * {@code trailingAt} is the offset of bytes after the first STOP (walked as further pickles), or -1.
     */
    public record Result(List<GlobalRef> globals, Map<String, Integer> opcodes, String error, long errorOffset,
                         long trailingAt) {
    }

    private final byte[] b;
    /** The text of the last counted string operand read. */
    private String text;

    private PickleScanner(byte[] b) {
        this.b = b;
    }

    public static Result scan(byte[] pickle) {
        return new PickleScanner(pickle).run();
    }

    private Result run() {
        List<GlobalRef> globals = new ArrayList<>();
        Map<String, Integer> opcodes = new LinkedHashMap<>();
        Deque<String> strings = new ArrayDeque<>();
        Map<Long, String> memo = new HashMap<>();
        int memoCount = 0;
        int pos = 0;
        String lastString = null;
        long trailingAt = -1;
        while (true) {
            int at = pos;
            if (pos >= b.length) {
                return new Result(globals, opcodes, trailingAt >= 0 ? null : "the pickle ends without a STOP opcode",
                        at, trailingAt);
            }
            Op op = Op.of(b[pos++]);
            if (op == null) {
                return new Result(globals, opcodes, String.format("unknown opcode 0x%02X", b[at] & 0xFF), at, trailingAt);
            }
            opcodes.merge(op.name(), 1, Integer::sum);
            String pushed = null;
            try {
                switch (op) {
                    case STOP:
                        if (pos >= b.length) {
                            return new Result(globals, opcodes, null, -1, trailingAt);
                        }
                        // Bytes after STOP: torch stops reading here, but a second pickle may hide
                        // behind the first, so the walk goes on.
                        if (trailingAt < 0) {
                            trailingAt = pos;
                        }
                        break;
                    case GLOBAL, INST: {
                        int e1 = lineEnd(b, pos);
                        String module = new String(b, pos, e1 - pos, StandardCharsets.UTF_8);
                        int e2 = lineEnd(b, e1 + 1);
                        String name = new String(b, e1 + 1, e2 - e1 - 1, StandardCharsets.UTF_8);
                        pos = e2 + 1;
                        globals.add(new GlobalRef(mapModule(module), name, at, op.name()));
                        break;
                    }
                    case STACK_GLOBAL: {
                        String name = strings.pollLast();
                        String module = strings.pollLast();
                        globals.add(new GlobalRef(module == null ? "?" : mapModule(module), name == null ? "?" : name,
                                at, op.name()));
                        break;
                    }
                    case BINUNICODE, BINSTRING, BINBYTES:
                        pos = skipCounted(b, pos, 4, op == Op.BINUNICODE || op == Op.BINSTRING, at);
                        pushed = op == Op.BINBYTES ? null : text;
                        break;
                    case SHORT_BINUNICODE, SHORT_BINSTRING, SHORT_BINBYTES:
                        pos = skipCounted(b, pos, 1, op != Op.SHORT_BINBYTES, at);
                        pushed = op == Op.SHORT_BINBYTES ? null : text;
                        break;
                    case BINUNICODE8, BINBYTES8, BYTEARRAY8:
                        pos = skipCounted(b, pos, 8, op == Op.BINUNICODE8, at);
                        pushed = op == Op.BINUNICODE8 ? text : null;
                        break;
                    case UNICODE, STRING, INT, LONG, FLOAT, PERSID: {
                        int e = lineEnd(b, pos);
                        if (op == Op.UNICODE || op == Op.STRING) {
                            String s = new String(b, pos, e - pos, StandardCharsets.UTF_8);
                            pushed = op == Op.STRING && s.length() >= 2 ? s.substring(1, s.length() - 1) : s;
                        }
                        pos = e + 1;
                        break;
                    }
                    case GET, PUT: {
                        int e = lineEnd(b, pos);
                        long idx = Long.parseLong(new String(b, pos, e - pos, StandardCharsets.US_ASCII).trim());
                        pos = e + 1;
                        if (op == Op.GET) {
                            pushed = memo.get(idx);
                        } else if (lastString != null) {
                            memo.put(idx, lastString);
                        }
                        break;
                    }
                    case BINGET, BINPUT:
                        need(b, pos, 1, at);
                        if (op == Op.BINGET) {
                            pushed = memo.get((long) (b[pos] & 0xFF));
                        } else if (lastString != null) {
                            memo.put((long) (b[pos] & 0xFF), lastString);
                        }
                        pos += 1;
                        break;
                    case LONG_BINGET, LONG_BINPUT: {
                        need(b, pos, 4, at);
                        long idx = le(b, pos, 4);
                        if (op == Op.LONG_BINGET) {
                            pushed = memo.get(idx);
                        } else if (lastString != null) {
                            memo.put(idx, lastString);
                        }
                        pos += 4;
                        break;
                    }
                    case MEMOIZE:
                        if (lastString != null) {
                            memo.put((long) memoCount, lastString);
                        }
                        memoCount++;
                        break;
                    case PROTO, BININT1, EXT1:
                        need(b, pos, 1, at);
                        pos += 1;
                        break;
                    case BININT2, EXT2:
                        need(b, pos, 2, at);
                        pos += 2;
                        break;
                    case BININT, EXT4:
                        need(b, pos, 4, at);
                        pos += 4;
                        break;
                    case BINFLOAT, FRAME:
                        need(b, pos, 8, at);
                        pos += 8;
                        break;
                    case LONG1:
                        need(b, pos, 1, at);
                        pos = skip(b, pos + 1, b[pos] & 0xFF, at);
                        break;
                    case LONG4:
                        need(b, pos, 4, at);
                        pos = skip(b, pos + 4, le(b, pos, 4), at);
                        break;
                    default:
                        break; // no operand
                }
            } catch (Truncated e) {
                return new Result(globals, opcodes, e.getMessage(), at, trailingAt);
            } catch (NumberFormatException e) {
                return new Result(globals, opcodes, op + " has a malformed operand", at, trailingAt);
            }
            if (op != Op.BINPUT && op != Op.LONG_BINPUT && op != Op.PUT && op != Op.MEMOIZE) {
                lastString = pushed;
                if (pushed != null) {
                    strings.addLast(pushed);
                    if (strings.size() > 64) {
                        strings.pollFirst();
                    }
                }
            }
        }
    }

    private static String mapModule(String module) {
        // Protocol-2 names of Python 3 modules, as torch's _read_global_instruction maps them.
        return module.equals("__builtin__") ? "builtins" : module.equals("copy_reg") ? "copyreg" : module;
    }

    private int skipCounted(byte[] b, int pos, int width, boolean keepText, int at) throws Truncated {
        need(b, pos, width, at);
        long n = le(b, pos, width);
        int start = pos + width;
        int end = skip(b, start, n, at);
        text = keepText ? new String(b, start, end - start, StandardCharsets.UTF_8) : null;
        return end;
    }

    private static int skip(byte[] b, int pos, long n, int at) throws Truncated {
        if (n < 0 || n > b.length - pos) {
            throw new Truncated("an operand at 0x" + Integer.toHexString(at).toUpperCase() + " declares "
                    + Long.toUnsignedString(n) + " bytes but only " + (b.length - pos) + " remain");
        }
        return (int) (pos + n);
    }

    private static void need(byte[] b, int pos, int n, int at) throws Truncated {
        skip(b, pos, n, at);
    }

    private static int lineEnd(byte[] b, int pos) throws Truncated {
        for (int i = pos; i < b.length; i++) {
            if (b[i] == '\n') {
                return i;
            }
        }
        throw new Truncated("a text operand has no terminating newline");
    }

    private static long le(byte[] b, int pos, int n) {
        long v = 0;
        for (int i = n - 1; i >= 0; i--) {
            v = v << 8 | (b[pos + i] & 0xFF);
        }
        return v;
    }

    private static final class Truncated extends Exception {
        private static final long serialVersionUID = 1L;

        Truncated(String m) {
            super(m, null, false, false);
        }
    }
}
