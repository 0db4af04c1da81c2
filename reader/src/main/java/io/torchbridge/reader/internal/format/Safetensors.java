package io.torchbridge.reader.internal.format;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.reader.DType;
import io.torchbridge.reader.Format;
import io.torchbridge.reader.PyDict;
import io.torchbridge.reader.ReadOptions;
import io.torchbridge.reader.StorageInfo;
import io.torchbridge.reader.internal.Checked;
import io.torchbridge.reader.internal.SafetensorsDtype;
import io.torchbridge.reader.internal.data.MappedFile;
import io.torchbridge.reader.internal.pickle.RawDict;
import io.torchbridge.reader.internal.pickle.StorageRef;
import io.torchbridge.reader.internal.pickle.TensorSpec;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A safetensors file: an 8-byte little-endian header length N, N bytes of JSON (an object whose
 * keys are tensor names, each {@code {"dtype", "shape", "data_offsets": [begin, end]}}, and an
 * optional {@code __metadata__} of strings), then the data, each tensor's bytes at
 * {@code 8 + N + begin}. Checked to the rules of the Rust crate's {@code read_metadata} and
 * {@code Metadata::validate} ({@code safetensors/src/tensor.rs}): the header at most 100 MB, UTF-8,
 * starting with '{'; every dtype known; each tensor's bytes exactly its shape times its dtype's
 * size; the tensors, in order of their offsets, tiling the data with no gap and no overlap and
 * ending where the file ends.
 *
 * <p>The root is a dict of the tensors in the order their data lies in the file, which is the
 * order {@code safetensors.torch.load_file} returns them in ({@code safe_open(...).keys()} sorts
 * the names instead). Each tensor is a zero-copy view of its bytes, a storage of its own.
 */
public final class Safetensors implements CheckpointFormat {
    /** {@code MAX_HEADER_SIZE} in the Rust crate. */
    public static final long MAX_HEADER = 100_000_000L;
    /** The reserved key of the header's free-form string map. */
    public static final String METADATA_KEY = "__metadata__";

    private final MappedFile file;
    private final String keyPrefix;

    /** Reads {@code file}, which stays the caller's to close. */
    public Safetensors(MappedFile file) {
        this(file, "");
    }

    /** As {@link #Safetensors(MappedFile)}, each storage key after {@code keyPrefix} (see {@link TorchZip}). */
    public Safetensors(MappedFile file, String keyPrefix) {
        this.file = file;
        this.keyPrefix = keyPrefix;
    }

    /** One header entry, checked. */
    private record Entry(String name, SafetensorsDtype code, long[] shape, long begin, long end, long at) {
    }

    @Override
    public Unpickled unpickle(ReadOptions options, boolean allowTrailing) throws CheckpointException {
        long size = file.size();
        if (size < 8) { // safety: st-header-too-small
            throw CheckpointException.at(Kind.TRUNCATED, null, 0, "the file has " + size
                    + " bytes, fewer than the 8 of a safetensors header length");
        }
        byte[] len = read(0, 8);
        long n = ByteBuffer.wrap(len).order(ByteOrder.LITTLE_ENDIAN).getLong();
        // a u64: read as signed, anything at or above 2^63 is negative here and as much too large
        if (n < 0 || n > MAX_HEADER) { // safety: st-header-limit
            throw CheckpointException.at(Kind.LIMIT_EXCEEDED, null, 0, "the header length is "
                    + Long.toUnsignedString(n) + " bytes, more than safetensors' limit of " + MAX_HEADER);
        }
        if (n > size - 8) { // safety: st-header-fits
            throw CheckpointException.at(Kind.TRUNCATED, null, 0, "the header length is " + n
                    + " bytes, but only " + (size - 8) + " follow the length");
        }
        byte[] raw = read(8, (int) n);
        ByteBuffer in = ByteBuffer.wrap(raw);
        CharBuffer chars = CharBuffer.allocate(raw.length);
        CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        CoderResult r = utf8.decode(in, chars, true);
        if (r.isError()) { // safety: st-header-utf8
            throw CheckpointException.at(Kind.MALFORMED, null, 8 + in.position(), "the header is not valid UTF-8");
        }
        utf8.flush(chars);
        String text = chars.flip().toString();
        if (n == 0 || raw[0] != '{') { // safety: st-header-start
            throw CheckpointException.at(Kind.MALFORMED, null, 8, "the header does not start with '{'");
        }
        Map<String, Integer> keyAt = new HashMap<>();
        Object parsed = Json.parse(text, "header", options.maxNesting(), keyAt);
        if (!(parsed instanceof Map<?, ?> header)) {
            throw CheckpointException.at(Kind.MALFORMED, null, 8, "the header is not a JSON object");
        }
        long dataStart = 8 + n;
        Map<String, String> metadata = Map.of();
        List<Entry> entries = new ArrayList<>(header.size());
        Utf8Offsets offsets = new Utf8Offsets(text);
        for (Map.Entry<?, ?> e : header.entrySet()) {
            String name = (String) e.getKey();
            long at = 8 + offsets.at(keyAt.getOrDefault(name, 0));
            if (name.equals(METADATA_KEY)) {
                metadata = metadata(e.getValue(), at);
            } else {
                entries.add(entry(name, e.getValue(), at));
            }
        }
        // Metadata::deserialize sorts by data_offsets; a stable sort keeps the header's order among
        // equal offsets (empty tensors), where the crate's order would come from its hash map
        List<Entry> ordered = new ArrayList<>(entries);
        ordered.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long cursor = 0;
        for (Entry t : ordered) {
            if (t.begin != cursor) { // safety: st-contiguous
                throw CheckpointException.at(Kind.MALFORMED, null, t.at, (t.begin > cursor
                        ? "its data starts at " + t.begin + ", leaving a gap after the data that ends at " + cursor
                        : "its data starts at " + t.begin + ", inside the data of another tensor (which ends at "
                        + cursor + ")") + "; safetensors requires the tensors to cover the data exactly")
                        .forTensor(t.name);
            }
            cursor = t.end;
        }
        long dataLength = size - dataStart;
        if (cursor > dataLength) { // safety: st-data-in-file
            Entry last = ordered.get(ordered.size() - 1);
            throw CheckpointException.at(Kind.TRUNCATED, null, last.at, "its data ends at " + last.end
                    + " but the file holds only " + dataLength + " bytes of data").forTensor(last.name);
        }
        if (cursor != dataLength) { // safety: st-no-trailing-data
            throw CheckpointException.at(Kind.MALFORMED, null, dataStart + cursor, (dataLength - cursor)
                    + " bytes follow the last tensor's data; safetensors requires the tensors to cover the data "
                    + "exactly");
        }

        RawDict root = RawDict.of(PyDict.DICT);
        int index = 0;
        for (Entry t : ordered) {
            DType dtype = t.code.dtype();
            long nbytes = t.end - t.begin;
            StorageRef storage = new StorageRef(new StorageInfo(keyPrefix + index++, dtype.storageName(), "cpu",
                    nbytes), dtype, file.region(dataStart + t.begin, nbytes, ByteOrder.LITTLE_ENDIAN), null);
            root.items.put(t.name, TensorSpec.contiguous(storage, dtype, torchShape(t)));
        }
        return new Unpickled(Format.SAFETENSORS, root, 0, ByteOrder.LITTLE_ENDIAN, null)
                .withMetadata(Collections.unmodifiableMap(metadata));
    }

    /** The {@code __metadata__} map: strings to strings only (the crate's {@code HashMap<String, String>}); null is none. */
    private static Map<String, String> metadata(Object value, long at) throws CheckpointException {
        if (value == null) {
            return Map.of(); // Option<HashMap>: serde reads null as None
        }
        // no pattern variables in the checked conditions: the mutation check turns them into `false && (...)`
        if (!(value instanceof Map<?, ?>)) { // safety: st-metadata-object
            throw CheckpointException.at(Kind.MALFORMED, null, at, METADATA_KEY + " is a " + typeName(value)
                    + ", not an object of strings");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : ((Map<?, ?>) value).entrySet()) {
            if (!(e.getValue() instanceof String)) { // safety: st-metadata-strings
                throw CheckpointException.at(Kind.MALFORMED, null, at, METADATA_KEY + "['" + e.getKey() + "'] is a "
                        + typeName(e.getValue()) + ", but safetensors metadata holds only strings");
            }
            out.put((String) e.getKey(), (String) e.getValue());
        }
        return out;
    }

    private static Entry entry(String name, Object value, long at) throws CheckpointException {
        if (!(value instanceof Map<?, ?> info)) {
            throw CheckpointException.at(Kind.MALFORMED, null, at, "its header entry is a " + typeName(value)
                    + ", not {\"dtype\", \"shape\", \"data_offsets\"}").forTensor(name);
        }
        for (String field : List.of("dtype", "shape", "data_offsets")) {
            if (!info.containsKey(field)) {
                throw CheckpointException.at(Kind.MALFORMED, null, at, "its header entry has no \"" + field + "\"")
                        .forTensor(name);
            }
        }
        if (!(info.get("dtype") instanceof String code)) {
            throw CheckpointException.at(Kind.MALFORMED, null, at, "its dtype is a " + typeName(info.get("dtype"))
                    + ", not a string").forTensor(name);
        }
        SafetensorsDtype dtype = SafetensorsDtype.byCode(code).orElse(null);
        if (dtype == null) { // safety: st-dtype-known
            throw CheckpointException.at(Kind.MALFORMED, null, at, "dtype \"" + code + "\" is not one the safetensors "
                    + "format defines").forTensor(name);
        }
        if (dtype.dtype() == null) { // safety: st-dtype-torch
            throw CheckpointException.at(Kind.UNSUPPORTED, null, at, "dtype " + code + " has no torch dtype, so it "
                    + "cannot be read as a torch tensor (safetensors.torch.load_file refuses it too)").forTensor(name);
        }
        long[] shape = integers(info.get("shape"), -1, "shape", name, at);
        long[] offsets = integers(info.get("data_offsets"), 2, "data_offsets", name, at);
        long begin = offsets[0];
        long end = offsets[1];
        if (end < begin) { // for the message: the size check below refuses these too
            throw CheckpointException.at(Kind.MALFORMED, null, at, "data_offsets [" + begin + ", " + end
                    + "] end before they begin").forTensor(name);
        }
        long numel = 1;
        long extent = 1; // the row-major strides' product, which a zero among huge dims does not bound
        for (long d : shape) {
            numel = Checked.multiply(numel, d, null, "tensor '" + name + "' element count");
            extent = Checked.multiply(extent, Math.max(d, 1), null, "tensor '" + name + "' strides");
        }
        long bits = Checked.multiply(numel, dtype.bits(), null, "tensor '" + name + "' size in bits");
        if (bits % 8 != 0) { // safety: st-whole-bytes
            throw CheckpointException.at(Kind.MALFORMED, null, at, numel + " elements of " + code
                    + " do not fill whole bytes").forTensor(name);
        }
        if (bits / 8 != end - begin) { // safety: st-size-matches-shape
            throw CheckpointException.at(Kind.MALFORMED, null, at, "shape " + java.util.Arrays.toString(shape)
                    + " of " + code + " takes " + bits / 8 + " bytes, but data_offsets [" + begin + ", " + end
                    + "] hold " + (end - begin)).forTensor(name);
        }
        if (dtype == SafetensorsDtype.F4 && (shape.length == 0 || shape[shape.length - 1] % 2 != 0)) { // safety: st-f4-pairs
            // torch's float4_e2m1fn_x2 holds a pair per element: the last dimension halves
            throw CheckpointException.at(Kind.UNSUPPORTED, null, at, "F4 with shape " + java.util.Arrays.toString(shape)
                    + " cannot be read as torch's float4_e2m1fn_x2, which needs an even last dimension")
                    .forTensor(name);
        }
        return new Entry(name, dtype, shape, begin, end, at);
    }

    /** The shape torch gives the tensor: an F4 pair is one float4_e2m1fn_x2 element. */
    private static long[] torchShape(Entry t) {
        if (t.code != SafetensorsDtype.F4) {
            return t.shape;
        }
        long[] s = t.shape.clone();
        s[s.length - 1] /= 2;
        return s;
    }

    /** A JSON array of non-negative integers ({@code usize} in the crate), of {@code count} items unless -1. */
    private static long[] integers(Object value, int count, String field, String name, long at)
            throws CheckpointException {
        if (!(value instanceof List<?> list) || (count >= 0 && list.size() != count)) {
            throw CheckpointException.at(Kind.MALFORMED, null, at, "its " + field + " is not an array"
                    + (count >= 0 ? " of " + count + " integers" : " of integers")).forTensor(name);
        }
        long[] out = new long[list.size()];
        for (int i = 0; i < out.length; i++) {
            Object o = list.get(i);
            if (!(o instanceof BigDecimal d) || d.scale() > 0) {
                throw CheckpointException.at(Kind.MALFORMED, null, at, "its " + field + "[" + i + "] is "
                        + (o instanceof BigDecimal ? o : typeName(o)) + ", not an integer").forTensor(name);
            }
            if (d.signum() < 0) { // safety: st-non-negative
                throw CheckpointException.at(Kind.MALFORMED, null, at, "its " + field + "[" + i + "] is " + d
                        + ", negative").forTensor(name);
            }
            try {
                out[i] = d.longValueExact();
            } catch (ArithmeticException e) {
                throw CheckpointException.at(Kind.OUT_OF_RANGE, null, at, "its " + field + "[" + i + "] is " + d
                        + ", beyond what 64-bit offsets and sizes hold").forTensor(name);
            }
        }
        return out;
    }

    private byte[] read(long at, int length) throws CheckpointException {
        try {
            return file.read(at, length);
        } catch (IOException e) {
            throw CheckpointException.of(Kind.IO, "cannot read " + file.path() + ": " + e).withCause(e);
        }
    }

    private static String typeName(Object o) {
        return o == null ? "null" : o instanceof String ? "string" : o instanceof BigDecimal ? "number"
                : o instanceof Boolean ? "boolean" : o instanceof List ? "array" : "object";
    }

    /**
     * Bytes that the first {@code chars} chars of a string take in UTF-8, for positions asked in
     * increasing order (the header's keys, in its order), counted on from the last one asked: the
     * header's length in all, not once per key (encoding the prefix before each key made an open
     * quadratic in the tensor count: 551 keys of a 60 KB header encoded 17 MB). A position before
     * the last one asked counts from the start again. The text was decoded from valid UTF-8, so
     * it has no unpaired surrogate (such a char would count 1, as {@code getBytes} writes '?').
     */
    private static final class Utf8Offsets {
        private final String s;
        private int chars;
        private long bytes;

        Utf8Offsets(String s) {
            this.s = s;
        }

        long at(int position) {
            int end = Math.min(position, s.length());
            if (end < chars) {
                chars = 0;
                bytes = 0;
            }
            while (chars < end) {
                char c = s.charAt(chars);
                if (c < 0x80) {
                    bytes += 1;
                } else if (c < 0x800) {
                    bytes += 2;
                } else if (Character.isHighSurrogate(c) && chars + 1 < end && Character.isLowSurrogate(s.charAt(chars + 1))) {
                    bytes += 4;
                    chars++;
                } else if (Character.isSurrogate(c)) {
                    bytes += 1;
                } else {
                    bytes += 3;
                }
                chars++;
            }
            return bytes;
        }
    }
}
