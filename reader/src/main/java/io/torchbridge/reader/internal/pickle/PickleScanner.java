package io.torchbridge.reader.internal.pickle;

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
 * does) and which opcodes it uses. Operands are read by {@link OpcodeDecoder}, as the reader reads
 * them, in its lenient mode. Tolerates any bytes: a malformed pickle ends the walk with an error
 * note.
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
        // Lenient: text that is not UTF-8 is listed with replacement characters, not the end of the walk.
        OpcodeDecoder in = new OpcodeDecoder(b, true);
        int memoCount = 0;
        String lastString = null;
        long trailingAt = -1;
        while (true) {
            Op op;
            try {
                op = in.next();
            } catch (OperandException e) {
                if (in.op() != null) {
                    opcodes.merge(in.op().name(), 1, Integer::sum); // a known opcode, cut off
                }
                return new Result(globals, opcodes, e.getMessage(), in.offset(), trailingAt);
            }
            int at = in.offset();
            if (op == null) {
                return new Result(globals, opcodes, trailingAt >= 0 ? null : "the pickle ends without a STOP opcode",
                        at, trailingAt);
            }
            opcodes.merge(op.name(), 1, Integer::sum);
            String pushed = null;
            try {
                switch (op) {
                    case STOP -> {
                        if (in.remaining() == 0) {
                            return new Result(globals, opcodes, null, -1, trailingAt);
                        }
                        // Bytes after STOP: torch stops reading here, but a second pickle may hide
                        // behind the first, so the walk goes on.
                        if (trailingAt < 0) {
                            trailingAt = in.position();
                        }
                    }
                    case GLOBAL, INST -> globals.add(new GlobalRef(Allowlist.module(in.module()), in.name(), at,
                            op.name()));
                    case STACK_GLOBAL -> {
                        String name = strings.pollLast();
                        String module = strings.pollLast();
                        globals.add(new GlobalRef(module == null ? "?" : Allowlist.module(module),
                                name == null ? "?" : name, at, op.name()));
                    }
                    case BINUNICODE, SHORT_BINUNICODE, BINUNICODE8, BINSTRING, SHORT_BINSTRING, STRING, UNICODE ->
                            pushed = in.text();
                    case GET, BINGET, LONG_BINGET -> pushed = memo.get(in.memoIndex());
                    case PUT, BINPUT, LONG_BINPUT -> {
                        long i = in.memoIndex();
                        if (lastString != null) {
                            memo.put(i, lastString);
                        }
                    }
                    case MEMOIZE -> {
                        if (lastString != null) {
                            memo.put((long) memoCount, lastString);
                        }
                        memoCount++;
                    }
                    default -> {
                        // the decoder has stepped over the operand; nothing to track
                    }
                }
            } catch (OperandException e) {
                return new Result(globals, opcodes, e.getMessage(), at, trailingAt);
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
}
