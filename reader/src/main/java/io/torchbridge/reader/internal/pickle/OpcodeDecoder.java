package io.torchbridge.reader.internal.pickle;

import io.torchbridge.reader.CheckpointException.Kind;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Reads a pickle's opcodes and decodes their operands, each as CPython's {@code Lib/pickletools.py}
 * describes it (the opcode's {@code ArgumentDescriptor}) and {@code Modules/_pickle.c} reads it. The
 * one operand parser of this package: the reader and the scanner both walk a pickle with it.
 *
 * <p>{@link #next()} reads one opcode and finds its operand, checking every declared length against
 * the bytes left before anything is allocated; the accessors ({@link #integer()}, {@link #text()},
 * ...) then decode that operand, allocating only within the bytes found. One instance walks one
 * pickle, reused from opcode to opcode; not thread-safe.
 *
 * <p>A strict decoder refuses text that is not what CPython accepts (bad UTF-8, bad escapes);
 * a lenient one (the scanner's) decodes such text with replacement characters instead, since it
 * must go on listing what follows. Lengths, newlines and numbers are checked either way.
 */
final class OpcodeDecoder {
    /**
     * CPython refuses integers of more than 4300 digits in text ({@code sys.int_info.
     * str_digits_check_threshold}): parsing them takes time quadratic in their length.
     */
    static final int MAX_TEXT_DIGITS = 4300;

    private final byte[] data;
    private final boolean lenient;
    private int pos;
    private Op op;
    private int offset;
    /** A fixed-width integer operand, or the declared length of a counted one. */
    private long number;
    /** Where the operand's bytes start and how many there are (text: without the newline). */
    private int start;
    private int length;
    /** GLOBAL and INST: the second line (the name). */
    private int start2;
    private int length2;

    OpcodeDecoder(byte[] data, boolean lenient) {
        this.data = data;
        this.lenient = lenient;
    }

    /** The offset of the next opcode (after {@link #next()}: of the byte after the operand). */
    int position() {
        return pos;
    }

    int remaining() {
        return data.length - pos;
    }

    /** The opcode last read, or null (before the first, at the end, or after an unknown byte). */
    Op op() {
        return op;
    }

    /** The offset of the opcode last read (or of the end of the data). */
    int offset() {
        return offset;
    }

    /**
     * Reads the next opcode and the extent of its operand; null at the end of the data. Throws
     * MALFORMED for a byte that is no opcode (then {@link #op()} is null) and TRUNCATED for an
     * operand that does not fit the bytes left.
     */
    Op next() throws OperandException {
        offset = pos;
        op = null;
        if (pos >= data.length) {
            return null;
        }
        int code = data[pos] & 0xFF;
        Op o = Op.of(code);
        if (o == null) {
            throw new OperandException(Kind.MALFORMED, String.format("unknown opcode 0x%02X", code));
        }
        op = o;
        pos++;
        switch (o) {
            case BININT1, PROTO, EXT1, BINGET, BINPUT -> number = fixed(1);
            case BININT2, EXT2 -> number = fixed(2);
            case BININT, EXT4 -> number = (int) fixed(4); // signed
            case LONG_BINGET, LONG_BINPUT -> number = fixed(4); // unsigned, as _pickle.c reads it
            case FRAME -> number = fixed(8);
            case BINFLOAT -> {
                need(8);
                long bits = 0;
                for (int i = 0; i < 8; i++) {
                    bits = bits << 8 | (data[pos + i] & 0xFF); // big-endian, unlike every other operand
                }
                number = bits;
                pos += 8;
            }
            case LONG1, SHORT_BINSTRING, SHORT_BINUNICODE, SHORT_BINBYTES -> counted(fixed(1));
            case LONG4, BINSTRING -> counted((int) fixed(4)); // signed
            case BINUNICODE, BINBYTES -> counted(fixed(4));
            case BINUNICODE8, BINBYTES8, BYTEARRAY8 -> counted(fixed(8));
            case INT, LONG, FLOAT, STRING, UNICODE, GET, PUT, PERSID -> {
                start = pos;
                length = line();
            }
            case GLOBAL, INST -> {
                start = pos;
                length = line();
                start2 = pos;
                length2 = line();
            }
            default -> {
                // no operand
            }
        }
        return o;
    }

    // --- the operand, decoded ------------------------------------------------------------------

    /** The fixed-width integer operand: BININT*, PROTO, EXT*, FRAME's length, a binary memo index. */
    long number() {
        return number;
    }

    /** The memo index of GET, PUT and their binary forms. */
    long memoIndex() throws OperandException {
        if (op != Op.GET && op != Op.PUT) {
            return number;
        }
        // int() strips whitespace; trim() strips control characters too: laxer, and harmless,
        // since a GET's index must still be in the memo.
        String s = latin1(start, length).trim();
        try {
            long i = Long.parseLong(s);
            if (i < 0) {
                throw malformed("negative " + op + " argument " + i);
            }
            return i;
        } catch (NumberFormatException e) {
            throw malformed(op + " operand '" + clip(s) + "' is not a memo index");
        }
    }

    /**
     * An int operand (BININT*, LONG1, LONG4, INT, LONG) as Python has it: a Long where it fits,
     * else a BigInteger; INT's {@code 00} and {@code 01} are False and True (protocol 0's bools).
     */
    Object integer() throws OperandException {
        return switch (op) {
            case BININT, BININT1, BININT2 -> number;
            case LONG1, LONG4 -> twosComplement(start, length);
            case INT -> {
                String s = digits(latin1(start, length));
                yield s.equals("00") ? Boolean.FALSE : s.equals("01") ? Boolean.TRUE : decimal(stripL(s));
            }
            case LONG -> decimal(digits(stripL(latin1(start, length))));
            default -> throw new IllegalStateException(op + " has no int operand");
        };
    }

    /**
     * A float operand: BINFLOAT's big-endian IEEE double ({@code _pickle.c, load_binfloat}), or
     * FLOAT's text. Pyrolite's {@code PickleUtils.bytes_to_double} would do the same, but linking
     * PickleUtils loads its exception class too, for three lines of code.
     */
    double floating() throws OperandException {
        if (op == Op.BINFLOAT) {
            return Double.longBitsToDouble(number);
        }
        String s = latin1(start, length);
        switch (s) {
            case "nan", "-nan":
                return Double.NaN;
            case "inf":
                return Double.POSITIVE_INFINITY;
            case "-inf":
                return Double.NEGATIVE_INFINITY;
            default:
                try {
                    return Double.parseDouble(s);
                } catch (NumberFormatException e) {
                    throw malformed("FLOAT operand '" + clip(s) + "' is not a number");
                }
        }
    }

    /**
     * A str operand. BIN*UNICODE: UTF-8 with 'surrogatepass', as CPython writes lone surrogates.
     * BINSTRING, SHORT_BINSTRING, STRING (Python 2 str): UTF-8, strictly, the encoding torch.load
     * passes ({@code torch/serialization.py, load}); STRING's quotes and escapes first, as
     * {@code _pickle.c, load_string}. UNICODE: 'raw-unicode-escape', as {@code load_unicode}.
     */
    String text() throws OperandException {
        String s = switch (op) {
            case BINUNICODE, SHORT_BINUNICODE, BINUNICODE8 -> Utf8.decode(data, start, length);
            case BINSTRING, SHORT_BINSTRING -> Utf8.decodeStrict(data, start, length);
            case STRING -> pythonTwoString();
            case UNICODE -> rawUnicodeEscape();
            default -> throw new IllegalStateException(op + " has no str operand");
        };
        if (s == null) {
            if (lenient) {
                return lossy(start, length);
            }
            throw malformed(op + ": string is not valid UTF-8");
        }
        return s;
    }

    /** A bytes operand (BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8): a copy. */
    byte[] bytes() {
        return Arrays.copyOfRange(data, start, start + length);
    }

    /** GLOBAL's and INST's module, as written (see {@link Allowlist#module}). */
    String module() throws OperandException {
        return line(start, length);
    }

    /** GLOBAL's and INST's name. */
    String name() throws OperandException {
        return line(start2, length2);
    }

    // --- reading -------------------------------------------------------------------------------

    private void need(int n) throws OperandException {
        if (remaining() < n) { // safety: operand-fixed-width
            throw new OperandException(Kind.TRUNCATED, op + " needs a " + n + "-byte operand but only "
                    + remaining() + " bytes remain");
        }
    }

    /** An unsigned little-endian integer of {@code n} bytes (n = 8: its 64 bits as they are). */
    private long fixed(int n) throws OperandException {
        need(n);
        long v = 0;
        for (int i = n - 1; i >= 0; i--) {
            v = v << 8 | (data[pos + i] & 0xFF);
        }
        pos += n;
        return v;
    }

    /** A counted operand of {@code n} bytes, checked against the bytes left before anything else. */
    private void counted(long n) throws OperandException {
        if (n < 0 && op == Op.BINSTRING) {
            throw malformed(op + " declares a negative length (" + n + ")");
        }
        if (n < 0 || n > remaining()) { // safety: operand-length-before-allocation
            throw new OperandException(Kind.TRUNCATED, op + " declares " + Long.toUnsignedString(n)
                    + " bytes but only " + remaining() + " remain");
        }
        number = n;
        start = pos;
        length = (int) n;
        pos += length;
    }

    /** A newline-terminated operand: its length without the newline; CPython requires the newline. */
    private int line() throws OperandException {
        for (int i = pos; i < data.length; i++) {
            if (data[i] == '\n') {
                int n = i - pos;
                pos = i + 1;
                return n;
            }
        }
        throw new OperandException(Kind.TRUNCATED, op + " operand has no terminating newline");
    }

    // --- decoding ------------------------------------------------------------------------------

    private String line(int from, int n) throws OperandException {
        String s = Utf8.decode(data, from, n);
        if (s == null) {
            if (lenient) {
                return lossy(from, n);
            }
            throw malformed(op + " operand is not UTF-8");
        }
        return s;
    }

    private String latin1(int from, int n) {
        return new String(data, from, n, StandardCharsets.ISO_8859_1);
    }

    private String lossy(int from, int n) {
        return new String(data, from, n, StandardCharsets.UTF_8);
    }

    private String digits(String s) throws OperandException {
        if (s.length() > MAX_TEXT_DIGITS) { // safety: operand-text-int-digits
            throw new OperandException(Kind.LIMIT_EXCEEDED, op + " operand has " + s.length()
                    + " digits; CPython refuses integers over " + MAX_TEXT_DIGITS + " digits in text");
        }
        return s;
    }

    private static String stripL(String s) {
        return s.endsWith("L") ? s.substring(0, s.length() - 1) : s;
    }

    private Object decimal(String s) throws OperandException {
        try {
            return normalize(new BigInteger(s));
        } catch (NumberFormatException e) {
            throw malformed(op + " operand '" + clip(s) + "' is not a number");
        }
    }

    /** LONG1 and LONG4: little-endian two's complement, any length (0 bytes is 0). */
    private Object twosComplement(int from, int n) {
        if (n <= 8) {
            long v = 0;
            for (int i = n - 1; i >= 0; i--) {
                v = v << 8 | (data[from + i] & 0xFF);
            }
            if (n > 0 && n < 8) {
                v = v << (64 - 8 * n) >> (64 - 8 * n); // sign-extend
            }
            return v;
        }
        byte[] be = new byte[n];
        for (int i = 0; i < n; i++) {
            be[i] = data[from + n - 1 - i];
        }
        return normalize(new BigInteger(be));
    }

    /** Long where it fits, BigInteger beyond: Python ints have no size. */
    static Object normalize(BigInteger v) {
        return v.bitLength() < 64 ? (Object) v.longValue() : v;
    }

    /**
     * STRING: a Python 2 str literal. It must be quoted ({@code _pickle.c, load_string}); its
     * escapes are those of {@code PyBytes_DecodeEscape} (an unknown escape stays as written).
     */
    private String pythonTwoString() throws OperandException {
        int end = start + length - 1;
        byte quote = length >= 2 ? data[start] : 0;
        if (length < 2 || data[end] != quote || (quote != '\'' && quote != '"')) {
            if (lenient) {
                return length < 2 ? lossy(start, length) : lossy(start + 1, length - 2);
            }
            throw malformed("the STRING opcode argument must be quoted");
        }
        byte[] out = new byte[length - 2];
        int o = 0;
        int i = start + 1;
        while (i < end) {
            byte c = data[i++];
            if (c != '\\') {
                out[o++] = c;
                continue;
            }
            if (i == end) {
                if (lenient) {
                    out[o++] = c;
                    break;
                }
                throw malformed("STRING: trailing \\ in string");
            }
            byte e = data[i++];
            switch (e) {
                case '\\', '\'', '"' -> out[o++] = e;
                case 'b' -> out[o++] = '\b';
                case 'f' -> out[o++] = '\f';
                case 't' -> out[o++] = '\t';
                case 'n' -> out[o++] = '\n';
                case 'r' -> out[o++] = '\r';
                case 'v' -> out[o++] = 0x0B;
                case 'a' -> out[o++] = 0x07;
                case '0', '1', '2', '3', '4', '5', '6', '7' -> {
                    int v = e - '0';
                    for (int k = 0; k < 2 && i < end && data[i] >= '0' && data[i] <= '7'; k++) {
                        v = (v << 3) + data[i++] - '0';
                    }
                    out[o++] = (byte) v;
                }
                case 'x' -> {
                    int hi = i + 1 < end ? hex(data[i]) : -1;
                    int lo = i + 1 < end ? hex(data[i + 1]) : -1;
                    if (hi < 0 || lo < 0) {
                        if (lenient) {
                            out[o++] = '\\';
                            out[o++] = e;
                            continue;
                        }
                        throw malformed("STRING: invalid \\x escape at position " + (i - 2 - start));
                    }
                    out[o++] = (byte) (hi << 4 | lo);
                    i += 2;
                }
                default -> {
                    out[o++] = '\\';
                    i--;
                }
            }
        }
        String s = Utf8.decodeStrict(out, 0, o);
        return s == null && lenient ? new String(out, 0, o, StandardCharsets.UTF_8) : s;
    }

    /**
     * UNICODE: 'raw-unicode-escape' ({@code PyUnicode_DecodeRawUnicodeEscape}): bytes are Latin-1
     * characters, except {@code \\uXXXX} and {@code \\UXXXXXXXX}; a backslash before anything else,
     * or at the end, is itself.
     */
    private String rawUnicodeEscape() throws OperandException {
        StringBuilder sb = new StringBuilder(length);
        int end = start + length;
        int i = start;
        while (i < end) {
            int c = data[i++] & 0xFF;
            if (c != '\\' || i >= end) {
                sb.append((char) c);
                continue;
            }
            int e = data[i++] & 0xFF;
            int count = e == 'u' ? 4 : e == 'U' ? 8 : 0;
            if (count == 0) {
                sb.append('\\').append((char) e);
                continue;
            }
            long cp = 0;
            int k = 0;
            for (; k < count && i < end && hex(data[i]) >= 0; k++) {
                cp = cp << 4 | hex(data[i++]);
            }
            if (k < count || cp > Character.MAX_CODE_POINT) {
                if (lenient) {
                    return lossy(start, length);
                }
                throw malformed(k < count ? "UNICODE: truncated \\" + (char) e + " escape"
                        : "UNICODE: \\U" + Long.toHexString(cp) + " is out of range");
            }
            sb.appendCodePoint((int) cp);
        }
        return sb.toString();
    }

    private static int hex(byte b) {
        if (b >= '0' && b <= '9') {
            return b - '0';
        } else if (b >= 'a' && b <= 'f') {
            return b - 'a' + 10;
        } else if (b >= 'A' && b <= 'F') {
            return b - 'A' + 10;
        }
        return -1;
    }

    private static String clip(String s) {
        return s.length() > 40 ? s.substring(0, 40) + "..." : s;
    }

    private static OperandException malformed(String message) {
        return new OperandException(Kind.MALFORMED, message);
    }
}
