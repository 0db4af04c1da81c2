package io.torchbridge.writer;

import io.torchbridge.reader.DType;
import io.torchbridge.reader.Tensor;
import io.torchbridge.reader.TensorInfo;
import io.torchbridge.reader.TensorLayout;
import io.torchbridge.reader.internal.SafetensorsDtype;
import io.torchbridge.reader.internal.data.Layout;
import io.torchbridge.reader.internal.data.MappedRegion;
import io.torchbridge.reader.internal.data.TensorRegions;
import io.torchbridge.writer.internal.JsonText;
import io.torchbridge.writer.internal.StorageSource;
import io.torchbridge.writer.internal.TensorView;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;

/**
 * Writes a safetensors file byte for byte as {@code safetensors.torch.save_file(tensors, path,
 * metadata)} (safetensors 0.8) does for the same tensors and metadata: the header JSON without
 * spaces, {@code __metadata__} first when given (an empty map is written as {@code {}}, null
 * leaves it out), then the tensors sorted as the Rust serializer sorts them (by dtype, largest
 * alignment first, in the crate's {@code Dtype} order, then by name in UTF-8 byte order), the
 * header padded with spaces to a multiple of 8, then each tensor's bytes in that order.
 *
 * <pre>{@code
 * Map<String, Object> sd = new LinkedHashMap<>();
 * sd.put("fc.weight", NewTensor.of(weights, 10, 20));
 * SafetensorsWriter.save(sd, Map.of("format", "pt"), Path.of("model.safetensors"));
 * }</pre>
 *
 * <p>One difference: the crate keeps metadata in a hash map, so {@code save_file} writes two or
 * more metadata entries in an order that changes from run to run; this writer keeps the map's own
 * iteration order. With at most one entry the bytes are the same.
 *
 * <p>The values are the reader's {@link Tensor}s (from any checkpoint format) or {@link NewTensor}s.
 * Bytes stream from their source: a read tensor's bytes go file-to-file in the kernel where they
 * need no change, so the heap a save uses stays small whatever the sizes. Crash-safe like
 * {@link CheckpointWriter}: written beside the target, then renamed over it.
 *
 * <p>What safetensors cannot hold is refused before any file is made, naming each tensor
 * ({@link Unrepresentable}): views that are not contiguous (and conj/neg views), tensors whose
 * bytes overlap in one storage ({@code save_file} refuses those too) unless {@code materialize}
 * asks for separate contiguous copies; and, always, sparse, quantized and nested tensors and
 * dtypes the format lacks ({@code complex128}, {@code complex32}).
 */
public final class SafetensorsWriter {
    private static final long PROGRESS_STEP = 1 << 20;

    private SafetensorsWriter() {
    }

    /** What the tensors hold that safetensors cannot, by tensor name. */
    public static final class Unrepresentable extends IllegalArgumentException {
        /** Tensors that are not one contiguous run of their storage, or carry a conj/neg bit. */
        private final List<String> views;
        /** Groups of tensors whose bytes overlap in one storage. */
        private final List<List<String>> shared;

        Unrepresentable(List<String> views, List<List<String>> shared) {
            super(message(views, shared));
            this.views = List.copyOf(views);
            this.shared = List.copyOf(shared);
        }

        /** {@return tensors that are not one contiguous run of their storage, or carry a conj/neg bit} */
        public List<String> views() {
            return views;
        }

        /** {@return groups of tensors whose bytes overlap in one storage} */
        public List<List<String>> shared() {
            return shared;
        }

        private static String message(List<String> views, List<List<String>> shared) {
            List<String> parts = new ArrayList<>();
            if (!views.isEmpty()) {
                parts.add("not contiguous (a view, or a conj/neg bit): " + String.join(", ", views));
            }
            if (!shared.isEmpty()) {
                parts.add("sharing memory: " + String.join("; ", shared.stream().map(g -> String.join(", ", g)).toList()));
            }
            return "safetensors holds each tensor as its own contiguous bytes; tensors " + String.join("; and ", parts);
        }
    }

    /**
     * {@code save_file(tensors, target, metadata)}; {@code metadata} may be null (no {@code __metadata__}).
     *
     * @param tensors  tensor name to {@link NewTensor} or a reader {@link io.torchbridge.reader.Tensor}, in order
     * @param metadata the header's {@code __metadata__}, or null for none
     * @param target   the file to write; replaced atomically
     * @throws IOException the file cannot be written
     */
    public static void save(Map<String, ?> tensors, Map<String, String> metadata, Path target) throws IOException {
        save(tensors, metadata, target, WriteOptions.defaults(), false);
    }

    /**
     * As above.
     *
     * @param tensors     tensor name to {@link NewTensor} or a reader {@link io.torchbridge.reader.Tensor}, in order
     * @param metadata    the header's {@code __metadata__}, or null for none
     * @param target      the file to write; replaced atomically
     * @param options     how the file is written
     * @param materialize write views and tensors sharing memory as separate contiguous copies
     *                    instead of refusing them
     * @throws Unrepresentable          views or shared memory, without {@code materialize}
     * @throws IllegalArgumentException a value that is no tensor, or a tensor safetensors cannot hold
     * @throws IOException              the file cannot be written
     */
    public static void save(Map<String, ?> tensors, Map<String, String> metadata, Path target, WriteOptions options,
                            boolean materialize) throws IOException {
        List<Item> items = plan(tensors, materialize);
        byte[] header = header(items, metadata);
        AtomicFile.write(target, options.fsync(), ch -> {
            Out out = new Out(ch, options.progress());
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).flip();
            out.write(len);
            out.write(ByteBuffer.wrap(header));
            for (Item it : items) {
                long before = out.written;
                it.body.writeTo(out);
                if (out.written - before != it.nbytes) {
                    throw new IllegalStateException("tensor '" + it.name + "' wrote " + (out.written - before)
                            + " bytes, not " + it.nbytes);
                }
            }
            out.done();
        });
    }

    /** One tensor as the file will hold it. */
    private record Item(String name, byte[] utf8, SafetensorsDtype code, long[] shape, long nbytes, Body body) {
    }

    @FunctionalInterface
    private interface Body {
        void writeTo(Out out) throws IOException;
    }

    /** The order, shapes and sources of every tensor; refuses what cannot be written. */
    private static List<Item> plan(Map<String, ?> tensors, boolean materialize) {
        List<Item> items = new ArrayList<>(tensors.size());
        List<String> views = new ArrayList<>();
        Map<Object, List<Area>> byStorage = new IdentityHashMap<>();
        for (Map.Entry<String, ?> e : tensors.entrySet()) {
            String name = e.getKey();
            Object v = e.getValue();
            Item item;
            if (v instanceof Tensor t) {
                item = readTensor(name, t, materialize, views, byStorage);
            } else if (v instanceof NewTensor t) {
                item = newTensor(name, t, materialize, views, byStorage);
            } else {
                throw new IllegalArgumentException("'" + name + "' is a " + (v == null ? "null" : v.getClass().getName())
                        + ", not a tensor; safetensors holds tensors only");
            }
            items.add(item);
        }
        List<List<String>> shared = shared(byStorage);
        if (!materialize && (!views.isEmpty() || !shared.isEmpty())) {
            throw new Unrepresentable(views, shared);
        }
        // safetensors/src/tensor.rs, prepare: by dtype, descending in the Dtype enum's order, then by name
        items.sort((a, b) -> a.code != b.code ? Integer.compare(b.code.ordinal(), a.code.ordinal())
                : Arrays.compareUnsigned(a.utf8, b.utf8));
        return items;
    }

    /** The bytes of one storage a tensor covers, {@code [start, end)}, for the check of shared memory. */
    private record Area(long start, long end, String name) {
    }

    private static SafetensorsDtype code(String name, DType dtype) {
        return SafetensorsDtype.of(dtype).orElseThrow(() -> new IllegalArgumentException("tensor '" + name
                + "' is " + dtype + ", which safetensors has no dtype for"));
    }

    /** The shape in the header: torch's float4_e2m1fn_x2 pairs count as two F4 values. */
    private static long[] fileShape(String name, SafetensorsDtype code, long[] shape) {
        if (code != SafetensorsDtype.F4) {
            return shape;
        }
        if (shape.length == 0) {
            throw new IllegalArgumentException("tensor '" + name + "' is a 0-d float4_e2m1fn_x2, which safetensors "
                    + "cannot hold (its F4 values are counted along the last dimension)");
        }
        long[] s = shape.clone();
        s[s.length - 1] = Math.multiplyExact(s[s.length - 1], 2);
        return s;
    }

    private static Item readTensor(String name, Tensor t, boolean materialize, List<String> views,
                                   Map<Object, List<Area>> byStorage) {
        TensorInfo i = t.info();
        if (i.layout() != TensorLayout.STRIDED) {
            throw new IllegalArgumentException("tensor '" + name + "' is " + i.layout().toString().toLowerCase(
                    java.util.Locale.ROOT) + "; safetensors holds dense tensors only (to_dense() in Python)");
        }
        if (t.quantization().isPresent()) {
            throw new IllegalArgumentException("tensor '" + name + "' is quantized (" + i.dtype()
                    + "); safetensors holds no quantization parameters (dequantize() or int_repr() in Python)");
        }
        SafetensorsDtype code = code(name, i.dtype());
        long[] shape = fileShape(name, code, i.shape().toArray());
        long nbytes = i.nbytes();
        long item = i.dtype().itemSize();
        long start = Math.multiplyExact(i.storageOffset(), item);
        boolean plain = i.isContiguous() && !i.conj() && !i.neg();
        if (!plain) {
            views.add(name);
        }
        if (nbytes > 0) {
            byStorage.computeIfAbsent(i.storage(), k -> new ArrayList<>())
                    .add(new Area(start, start + Math.multiplyExact(i.extent(), item), name));
        }
        MappedRegion region = TensorRegions.of(t);
        boolean asIs = plain && (item == 1 || region.order() == ByteOrder.LITTLE_ENDIAN);
        Body body = asIs ? out -> {
            region.file().acquire();
            try {
                out.transfer(region, start, nbytes);
            } finally {
                region.file().release();
            }
        } : out -> {
            // a materialized view, conj/neg applied, or big-endian data swapped: the logical values
            try {
                t.stream(piece -> {
                    try {
                        out.write(piece);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                });
            } catch (UncheckedIOException e) {
                throw e.getCause();
            }
        };
        return new Item(name, name.getBytes(StandardCharsets.UTF_8), code, shape, nbytes, body);
    }

    private static Item newTensor(String name, NewTensor t, boolean materialize, List<String> views,
                                  Map<Object, List<Area>> byStorage) {
        TensorView v = t.toView();
        SafetensorsDtype code = code(name, v.dtype());
        long[] shape = fileShape(name, code, v.shape());
        long item = v.dtype().itemSize();
        long nbytes = Math.multiplyExact(Layout.numel(v.shape()), item);
        long start = Math.multiplyExact(v.offset(), item);
        boolean plain = Layout.isContiguous(v.shape(), v.stride()) && !v.conj() && !v.neg();
        if (!plain) {
            views.add(name);
            if (materialize) {
                throw new IllegalArgumentException("tensor '" + name + "' is a view that is not contiguous (or has a "
                        + "conj/neg bit); make a contiguous NewTensor of its values to write it to safetensors");
            }
        }
        if (nbytes > 0) {
            byStorage.computeIfAbsent(v.storage(), k -> new ArrayList<>())
                    .add(new Area(start, start + Math.multiplyExact(Layout.extent(v.shape(), v.stride()), item), name));
        }
        StorageSource s = v.storage();
        Body body = out -> out.window(s, start, nbytes);
        return new Item(name, name.getBytes(StandardCharsets.UTF_8), code, shape, nbytes, body);
    }

    /**
     * Groups of tensors whose areas overlap, found as safetensors.torch finds them
     * ({@code _find_shared_tensors}, {@code _filter_shared_not_shared}): per storage, areas sorted
     * by start; an area starting before the previous one's end joins its group.
     */
    private static List<List<String>> shared(Map<Object, List<Area>> byStorage) {
        List<List<String>> out = new ArrayList<>();
        for (List<Area> areas : byStorage.values()) {
            if (areas.size() < 2) {
                continue;
            }
            areas.sort((a, b) -> a.start != b.start ? Long.compare(a.start, b.start)
                    : a.end != b.end ? Long.compare(a.end, b.end) : a.name.compareTo(b.name));
            List<String> group = new ArrayList<>(List.of(areas.get(0).name));
            long lastStop = areas.get(0).end;
            for (Area a : areas.subList(1, areas.size())) {
                if (a.start >= lastStop) {
                    if (group.size() > 1) {
                        out.add(group);
                    }
                    group = new ArrayList<>();
                }
                group.add(a.name);
                lastStop = a.end;
            }
            if (group.size() > 1) {
                out.add(group);
            }
        }
        for (List<String> g : out) {
            Collections.sort(g);
        }
        return out;
    }

    /** The header JSON as serde_json writes it (no spaces), padded with spaces to a multiple of 8. */
    static byte[] header(List<Item> items, Map<String, String> metadata) {
        StringBuilder sb = new StringBuilder("{");
        boolean first = true;
        if (metadata != null) {
            sb.append("\"__metadata__\":{");
            boolean f = true;
            for (Map.Entry<String, String> e : metadata.entrySet()) {
                if (!f) {
                    sb.append(',');
                }
                f = false;
                JsonText.string(sb, e.getKey(), false);
                sb.append(':');
                JsonText.string(sb, e.getValue(), false);
            }
            sb.append('}');
            first = false;
        }
        long offset = 0;
        for (Item it : items) {
            if (!first) {
                sb.append(',');
            }
            first = false;
            JsonText.string(sb, it.name, false);
            sb.append(":{\"dtype\":\"").append(it.code.code()).append("\",\"shape\":[");
            for (int i = 0; i < it.shape.length; i++) {
                sb.append(i == 0 ? "" : ",").append(it.shape[i]);
            }
            long end = Math.addExact(offset, it.nbytes);
            sb.append("],\"data_offsets\":[").append(offset).append(',').append(end).append("]}");
            offset = end;
        }
        sb.append('}');
        byte[] json = sb.toString().getBytes(StandardCharsets.UTF_8);
        int padded = json.length + (8 - json.length % 8) % 8;
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    /** The file being written: counts bytes, reports progress, gives sources one scratch buffer. */
    private static final class Out implements StorageSource.Sink {
        private final FileChannel ch;
        private final LongConsumer progress;
        private ByteBuffer scratch;
        long written;
        private long reported;

        Out(FileChannel ch, LongConsumer progress) {
            this.ch = ch;
            this.progress = progress;
        }

        @Override
        public void write(ByteBuffer piece) throws IOException {
            while (piece.hasRemaining()) {
                written += ch.write(piece);
            }
            report();
        }

        @Override
        public ByteBuffer scratch() {
            if (scratch == null) {
                scratch = ByteBuffer.allocateDirect(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
            }
            return scratch.clear();
        }

        /** Bytes {@code [from, from + count)} of a read region, file-to-file in the kernel where it can. */
        void transfer(MappedRegion region, long from, long count) throws IOException {
            for (long done = 0; done < count; ) {
                long n = Math.min(16L << 20, count - done);
                region.file().transferTo(region.offset() + from + done, n, ch);
                done += n;
                written += n;
                report();
            }
        }

        /** Bytes {@code [from, from + count)} of a source that streams its whole storage: the rest is skipped. */
        void window(StorageSource s, long from, long count) throws IOException {
            long[] at = {0};
            s.writeTo(new StorageSource.Sink() {
                @Override
                public void write(ByteBuffer piece) throws IOException {
                    int n = piece.remaining();
                    long lo = Math.max(from, at[0]);
                    long hi = Math.min(from + count, at[0] + n);
                    if (lo < hi) {
                        ByteBuffer part = piece.duplicate();
                        part.position(piece.position() + (int) (lo - at[0]));
                        part.limit(piece.position() + (int) (hi - at[0]));
                        Out.this.write(part);
                    }
                    piece.position(piece.limit());
                    at[0] += n;
                }

                @Override
                public ByteBuffer scratch() {
                    return Out.this.scratch();
                }
            });
        }

        private void report() {
            if (progress != null && written - reported >= PROGRESS_STEP) {
                reported = written;
                progress.accept(written);
            }
        }

        void done() {
            if (progress != null) {
                progress.accept(written);
            }
        }
    }
}
