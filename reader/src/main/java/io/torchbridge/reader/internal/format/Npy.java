package io.torchbridge.reader.internal.format;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.reader.DType;
import io.torchbridge.reader.Format;
import io.torchbridge.reader.ReadOptions;
import io.torchbridge.reader.StorageInfo;
import io.torchbridge.reader.internal.Checked;
import io.torchbridge.reader.internal.data.MappedFile;
import io.torchbridge.reader.internal.pickle.StorageRef;
import io.torchbridge.reader.internal.pickle.TensorSpec;
import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A NumPy array file ({@code numpy.save}; {@code numpy/lib/format.py}): the magic
 * {@code \x93NUMPY}, a major and minor version, the header's length (2 bytes little-endian in
 * version 1, 4 in versions 2 and 3), the header (a Python dict literal with {@code descr},
 * {@code fortran_order} and {@code shape}; latin-1, UTF-8 in version 3), then the array's bytes.
 * The header is parsed as the literal it is, never evaluated. Object arrays (descr {@code O}) hold
 * pickles and are refused, as are structured, string and datetime dtypes. A Fortran-order array
 * becomes a column-major view of its bytes, as {@code torch.from_numpy} sees it.
 */
public final class Npy implements CheckpointFormat {
    /** numpy/lib/format.py, _MAX_HEADER_SIZE: numpy.load refuses longer headers too. */
    static final int MAX_HEADER = 10000;
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};

    private final MappedFile file;

    public Npy(MappedFile file) {
        this.file = file;
    }

    @Override
    public Unpickled unpickle(ReadOptions options, boolean allowTrailing) throws CheckpointException {
        Path name = file.path().getFileName();
        Array a = array(file, 0, file.size(), name == null ? "npy" : name.toString(), "0");
        return new Unpickled(Format.NPY, a.spec(), a.major(), a.order(), null);
    }

    /** One parsed array: its tensor over the file, the file's version and the data's byte order. */
    record Array(TensorSpec spec, int major, ByteOrder order) {
    }

    /**
     * The array whose .npy bytes lie at {@code [start, start + length)} of {@code file};
     * {@code record} names it in messages (the file's or the record's name), {@code key} its storage.
     */
    static Array array(MappedFile file, long start, long length, String record, String key) throws CheckpointException {
        byte[] prefix = read(file, start, (int) Math.min(length, 12), record);
        if (prefix.length < 8 || !java.util.Arrays.equals(prefix, 0, 6, MAGIC, 0, 6)) { // safety: npy-magic
            throw CheckpointException.at(Kind.MALFORMED, record, 0, "not a .npy array: it does not start with "
                    + "\\x93NUMPY and a version");
        }
        int major = prefix[6] & 0xFF;
        if (major < 1 || major > 3 || prefix[7] != 0) { // safety: npy-version
            throw CheckpointException.at(Kind.UNSUPPORTED, record, 6, ".npy format version " + major + "."
                    + (prefix[7] & 0xFF) + "; numpy writes 1.0, 2.0 and 3.0");
        }
        int lenBytes = major == 1 ? 2 : 4;
        if (prefix.length < 8 + lenBytes) { // safety: npy-header-length-present
            throw CheckpointException.at(Kind.TRUNCATED, record, 8, "the file ends inside the header length");
        }
        long headerLength = (prefix[8] & 0xFF) | (prefix[9] & 0xFF) << 8
                | (lenBytes == 4 ? ((prefix[10] & 0xFFL) << 16 | (prefix[11] & 0xFFL) << 24) : 0);
        if (headerLength > MAX_HEADER) { // safety: npy-header-limit
            throw CheckpointException.at(Kind.LIMIT_EXCEEDED, record, 8, "the header declares " + headerLength
                    + " bytes, more than the " + MAX_HEADER + " numpy.load accepts");
        }
        long dataStart = 8 + lenBytes + headerLength;
        if (dataStart > length) { // safety: npy-header-inside
            throw CheckpointException.at(Kind.TRUNCATED, record, 8, "the header declares " + headerLength
                    + " bytes but the file ends before them");
        }
        byte[] h = read(file, start + 8 + lenBytes, (int) headerLength, record);
        String text = new String(h, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        Map<String, Object> dict = new HeaderParser(text, record, 8 + lenBytes).dict();
        if (!(dict.get("descr") instanceof String)) { // safety: npy-descr
            throw CheckpointException.at(Kind.UNSUPPORTED, record, 8 + lenBytes, "descr is " + dict.get("descr")
                    + ", not a plain type string: structured arrays are not read");
        }
        if (!(dict.get("fortran_order") instanceof Boolean)) { // safety: npy-fortran-order
            throw CheckpointException.at(Kind.MALFORMED, record, 8 + lenBytes, "the header has no fortran_order True/False");
        }
        if (!(dict.get("shape") instanceof List<?>)) { // safety: npy-shape
            throw CheckpointException.at(Kind.MALFORMED, record, 8 + lenBytes, "the header has no shape tuple");
        }
        String descr = (String) dict.get("descr");
        boolean fortran = (Boolean) dict.get("fortran_order");
        List<?> dims = (List<?>) dict.get("shape");
        ByteOrder order = descr.startsWith(">") ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;
        DType dtype = dtype(descr, record, 8 + lenBytes);
        long[] shape = new long[dims.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            shape[i] = (Long) dims.get(i);
            numel = Checked.multiply(numel, shape[i], record, "element count");
        }
        long nbytes = Checked.multiply(numel, dtype.itemSize(), record, "data size");
        if (nbytes != length - dataStart) { // safety: npy-data-size
            throw CheckpointException.at(length - dataStart < nbytes ? Kind.TRUNCATED : Kind.MALFORMED, record, dataStart,
                    "shape " + dims + " of " + descr + " needs " + nbytes + " bytes of data, the file has "
                            + (length - dataStart));
        }
        long[] stride = new long[shape.length];
        long step = 1;
        for (int k = 0; k < shape.length; k++) {
            int i = fortran ? k : shape.length - 1 - k; // Fortran order: the first axis varies fastest
            stride[i] = step;
            // exact: with a size 0 the element count above is 0 whatever the other sizes multiply to
            step = Checked.multiply(step, Math.max(1, shape[i]), record, "stride");
        }
        StorageInfo info = new StorageInfo(key, dtype.storageName(), "cpu", nbytes);
        StorageRef ref = new StorageRef(info, dtype, file.region(start + dataStart, nbytes, order), null);
        return new Array(TensorSpec.strided(ref, dtype, shape, stride, 0), major, order);
    }

    /** numpy's type string: byte order, kind, size. Only the dtypes torch has too. */
    private static DType dtype(String descr, String record, long offset) throws CheckpointException {
        if (descr.length() >= 2 && descr.substring(1).equals("O")) { // safety: npy-no-object-arrays
            throw CheckpointException.at(Kind.UNSUPPORTED, record, offset, "descr '" + descr + "' is an object array, "
                    + "whose elements are pickles (numpy.load refuses it without allow_pickle=True); never read");
        }
        String body = descr.length() > 1 && "<>|=".indexOf(descr.charAt(0)) >= 0 ? descr.substring(1) : descr;
        DType d = switch (body) {
            case "f8" -> DType.FLOAT64;
            case "f4" -> DType.FLOAT32;
            case "f2" -> DType.FLOAT16;
            case "i8" -> DType.INT64;
            case "i4" -> DType.INT32;
            case "i2" -> DType.INT16;
            case "i1" -> DType.INT8;
            case "u8" -> DType.UINT64;
            case "u4" -> DType.UINT32;
            case "u2" -> DType.UINT16;
            case "u1" -> DType.UINT8;
            case "b1", "?" -> DType.BOOL;
            case "c16" -> DType.COMPLEX128;
            case "c8" -> DType.COMPLEX64;
            default -> null;
        };
        if (d == null || descr.startsWith("=")) { // safety: npy-known-dtype
            throw CheckpointException.at(Kind.UNSUPPORTED, record, offset, "descr '" + descr + "' is not a numeric "
                    + "type torch has (numpy writes '<f4', '|u1', '<c8', ...; '=' is the writer's own byte order)");
        }
        return d;
    }

    private static byte[] read(MappedFile file, long at, int n, String record) throws CheckpointException {
        try {
            return file.read(at, n);
        } catch (IOException e) {
            throw CheckpointException.at(Kind.IO, record, at, "cannot read: " + e).withCause(e);
        }
    }

    /**
     * The header dict as the Python literal numpy writes ({@code repr} of a dict of str keys with
     * str, bool and tuple-of-int values): parsed, never evaluated; anything else is refused.
     */
    private static final class HeaderParser {
        /** A structured descr (a list of fields), which is not read. */
        private static final Object STRUCTURED = new Object() {
            @Override
            public String toString() {
                return "a list of fields";
            }
        };

        private final String s;
        private final String record;
        private final long offset;
        private int i;

        HeaderParser(String s, String record, long offset) {
            this.s = s;
            this.record = record;
            this.offset = offset;
        }

        Map<String, Object> dict() throws CheckpointException {
            Map<String, Object> out = new LinkedHashMap<>();
            expect('{');
            while (true) {
                skip();
                if (peek() == '}') {
                    i++;
                    break;
                }
                String key = string();
                expect(':');
                Object v = value();
                if (out.containsKey(key)) { // safety: npy-header-key-once
                    throw error("key '" + key + "' appears twice");
                }
                out.put(key, v);
                skip();
                if (peek() == ',') {
                    i++;
                } else if (peek() != '}') {
                    throw error("expected ',' or '}'");
                }
            }
            skip();
            if (i != s.length()) { // safety: npy-header-ends
                throw error("text after the dict");
            }
            return out;
        }

        private Object value() throws CheckpointException {
            skip();
            char c = peek();
            if (c == '\'' || c == '"') {
                return string();
            } else if (s.startsWith("True", i)) {
                i += 4;
                return Boolean.TRUE;
            } else if (s.startsWith("False", i)) {
                i += 5;
                return Boolean.FALSE;
            } else if (c == '(') {
                i++;
                List<Object> dims = new ArrayList<>();
                while (true) {
                    skip();
                    if (peek() == ')') {
                        i++;
                        return dims;
                    }
                    dims.add(integer());
                    skip();
                    if (peek() == ',') {
                        i++;
                    } else if (peek() != ')') {
                        throw error("expected ',' or ')' in the shape");
                    }
                }
            } else if (c == '[') {
                skipList(); // a structured descr: refused by the caller as not a plain type string
                return STRUCTURED;
            }
            throw error("unexpected '" + c + "'");
        }

        /** Skips a bracketed list with its nested brackets and quoted strings. */
        private void skipList() throws CheckpointException {
            int depth = 0;
            do {
                char c = peek();
                if (c == '\'' || c == '"') {
                    string();
                    continue;
                }
                depth += c == '[' || c == '(' ? 1 : c == ']' || c == ')' ? -1 : 0;
                i++;
            } while (depth > 0);
        }

        private Long integer() throws CheckpointException {
            int start = i;
            while (i < s.length() && Character.isDigit(s.charAt(i)) && i - start < 19) {
                i++;
            }
            if (i == start || (i < s.length() && Character.isDigit(s.charAt(i)))) { // safety: npy-shape-integers
                throw error("a shape entry is not a non-negative integer below 10^19");
            }
            long v = Long.parseLong(s.substring(start, i));
            if (i < s.length() && s.charAt(i) == 'L') {
                i++; // Python 2's long suffix, which numpy < 1.? wrote
            }
            return v;
        }

        private String string() throws CheckpointException {
            skip();
            char q = peek();
            if (q != '\'' && q != '"') {
                throw error("expected a string");
            }
            int end = s.indexOf(q, i + 1);
            if (end < 0) {
                throw error("a string is not closed");
            }
            String out = s.substring(i + 1, end);
            i = end + 1;
            return out;
        }

        private void expect(char c) throws CheckpointException {
            skip();
            if (peek() != c) {
                throw error("expected '" + c + "'");
            }
            i++;
        }

        private char peek() throws CheckpointException {
            if (i >= s.length()) { // safety: npy-header-complete
                throw error("the header ends too early");
            }
            return s.charAt(i);
        }

        private void skip() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
        }

        private CheckpointException error(String what) {
            return CheckpointException.at(Kind.MALFORMED, record, offset + i, "the .npy header is not numpy's dict: "
                    + what + " (at character " + i + ")");
        }
    }
}
