package io.torchbridge.reader.diff;

import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.DType;
import io.torchbridge.reader.PyComplex;
import io.torchbridge.reader.Quantization;
import io.torchbridge.reader.ReadOptions;
import io.torchbridge.reader.Tensor;
import io.torchbridge.reader.TensorEntry;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What differs between two checkpoints A and B, of any formats the reader opens (a converted file
 * against its original is the typical case).
 *
 * <pre>{@code
 * CheckpointDiff.of(original, converted).assertEqual();                    // in a JUnit test
 * CheckpointDiff d = CheckpointDiff.of(a, b, CheckpointDiff.Options.exact().withTolerance(1e-6, 1e-5)
 *         .withStripPrefix("module.").withOnly("model_state_dict"));
 * d.equal(); d.onlyInA(); d.changed(); d.valuesChanged();
 * }</pre>
 *
 * <p><b>Tensors</b> are paired by name ({@link Checkpoint#entries()}). For each pair: a different
 * {@linkplain Change.Kind#SHAPE shape} or {@linkplain Change.Kind#LAYOUT layout} (strided, sparse,
 * nested) is reported as such and the values are not compared; otherwise the values are compared
 * element by element in the wider of the two types (integers as integers, anything with a float as
 * float64, anything complex as complex128), with NaN equal to NaN in the same place and
 * {@code |a - b| <= atol + rtol * |b|} (NumPy's and torch's {@code allclose} rule; the default is
 * exact). A different dtype is a {@linkplain Change.Kind#DTYPE dtype} change that still counts
 * the mismatched elements; same dtype with mismatches is a {@linkplain Change.Kind#VALUES values}
 * change. Quantized tensors compare their integers ({@code int_repr()}) and their quantization
 * parameters (a change there is a values change whose {@code a}/{@code b} are the parameters);
 * sparse and nested tensors compare their dense values. Data is streamed: big tensors are compared
 * block by block, never whole on the heap. Strides, storage sharing, saved device and
 * {@code requires_grad} are not compared.
 *
 * <p><b>Non-tensor values</b> ({@link Checkpoint#values()}: {@code epoch}, {@code loss}, config
 * entries) are compared by path: a value only on one side, of another type, or unequal (floats by
 * the same tolerance rule, NaN equal to NaN) is listed in {@link #valuesChanged()}. Dict classes,
 * attributes such as {@code _metadata} and key order are not compared.
 */
public final class CheckpointDiff {
    /** Tensors up to this many logical bytes are compared from one copy each; bigger ones block by block. */
    static final long WHOLE = 8L << 20;
    /** Elements per block for big tensors (at most 1 MiB for complex128). */
    static final int BLOCK_ELEMENTS = 1 << 16;

    /**
     * How to compare.
     *
     * @param atol        absolute tolerance, 0 for exact
     * @param rtol        relative tolerance (of B's value), 0 for exact
     * @param stripPrefix removed from the start of every name and path that has it (DDP's
     *                    {@code module.}), after {@code only}; null for none
     * @param only        compare only what lies under this path on both sides (a sub-dict such as
     *                    {@code model_state_dict}, or one tensor), with the path removed from the
     *                    names; a side that is a single bare tensor (a {@code .npy},
     *                    {@code torch.save(tensor)}) is taken whole; null for everything
     * @param read        how both files are opened ({@link #of(Path, Path, Options)})
     */
    public record Options(double atol, double rtol, String stripPrefix, String only, ReadOptions read) {
        /**
         * Checks the tolerances.
         *
         * @param atol        absolute tolerance, 0 for exact
         * @param rtol        relative tolerance (of B's value), 0 for exact
         * @param stripPrefix removed from the start of every name and path that has it; null for none
         * @param only        compare only what lies under this path on both sides; null for everything
         * @param read        how both files are opened
         * @throws IllegalArgumentException {@code atol} or {@code rtol} is negative, NaN or infinite
         * @throws NullPointerException     {@code read} is null
         */
        public Options {
            if (!(atol >= 0) || !(rtol >= 0) || Double.isInfinite(atol) || Double.isInfinite(rtol)) {
                throw new IllegalArgumentException("atol and rtol must be finite and >= 0, got " + atol + " and " + rtol);
            }
            Objects.requireNonNull(read, "read");
        }

        /** {@return exact comparison of everything, files opened with {@link ReadOptions#defaults()}} */
        public static Options exact() {
            return new Options(0, 0, null, null, ReadOptions.defaults());
        }

        /**
         * {@return these options with other tolerances}
         *
         * @param atol absolute tolerance, 0 for exact
         * @param rtol relative tolerance (of B's value), 0 for exact
         */
        public Options withTolerance(double atol, double rtol) {
            return new Options(atol, rtol, stripPrefix, only, read);
        }

        /**
         * {@return these options with another {@link #stripPrefix()}}
         *
         * @param prefix removed from the start of every name that has it; null or empty for none
         */
        public Options withStripPrefix(String prefix) {
            return new Options(atol, rtol, prefix == null || prefix.isEmpty() ? null : prefix, only, read);
        }

        /**
         * {@return these options with another {@link #only()}}
         *
         * @param path the path to compare under on both sides; null or empty for everything
         */
        public Options withOnly(String path) {
            return new Options(atol, rtol, stripPrefix, path == null || path.isEmpty() ? null : path, read);
        }

        /**
         * {@return these options with other {@link #read()} options}
         *
         * @param options how both files are opened
         */
        public Options withReadOptions(ReadOptions options) {
            return new Options(atol, rtol, stripPrefix, only, options);
        }
    }

    /**
     * One tensor that differs.
     *
     * @param name        its name (after {@code only} and {@code stripPrefix})
     * @param kind        what differs
     * @param a           A's dtype name, shape ({@code long[]}), layout name or quantization
     *                    parameters (a map), as {@code kind} says; null for a values change of
     *                    unquantized tensors
     * @param b           the same of B
     * @param mismatched  elements that do not match (for packed dtypes: bytes), or null where the
     *                    values were not compared (shape or layout changed, incomparable dtypes)
     * @param maxAbsDiff  the largest {@code |a - b|} over elements that are not equal (0 if none;
     *                    NaN where a NaN meets a number), null where not compared
     */
    public record Change(String name, Kind kind, Object a, Object b, Long mismatched, Double maxAbsDiff) {
        /** What differs. */
        public enum Kind {
            /** The dtypes differ. */
            DTYPE("dtype"),
            /** The shapes differ. */
            SHAPE("shape"),
            /** The layouts (strided, sparse kinds) or quantization parameters differ. */
            LAYOUT("layout"),
            /** Same dtype and shape, but some elements differ beyond the tolerance. */
            VALUES("values");

            private final String label;

            Kind(String label) {
                this.label = label;
            }

            /** {@return the name {@code torchbridge diff --json} uses} */
            public String label() {
                return label;
            }
        }

        @Override
        public String toString() {
            String what = switch (kind) {
                case DTYPE -> "dtype " + a + " -> " + b;
                case SHAPE -> "shape " + Arrays.toString((long[]) a) + " -> " + Arrays.toString((long[]) b);
                case LAYOUT -> "layout " + a + " -> " + b;
                case VALUES -> a == null ? "values" : "quantization " + a + " -> " + b;
            };
            String numbers = mismatched == null ? ""
                    : ": " + mismatched + " elements differ, max |a-b| " + maxAbsDiff;
            return name + ": " + what + numbers;
        }
    }

    private final String a;
    private final String b;
    private final List<String> onlyInA;
    private final List<String> onlyInB;
    private final List<Change> changed;
    private final List<String> valuesChanged;
    private final List<String> valueLines;

    private CheckpointDiff(String a, String b, List<String> onlyInA, List<String> onlyInB, List<Change> changed,
                           List<String> valuesChanged, List<String> valueLines) {
        this.a = a;
        this.b = b;
        this.onlyInA = List.copyOf(onlyInA);
        this.onlyInB = List.copyOf(onlyInB);
        this.changed = List.copyOf(changed);
        this.valuesChanged = List.copyOf(valuesChanged);
        this.valueLines = List.copyOf(valueLines);
    }

    /**
     * Compares the files {@code a} and {@code b} exactly.
     *
     * @param a the first file (A)
     * @param b the second file (B)
     * @return the differences
     * @throws IOException          a file cannot be read
     * @throws io.torchbridge.reader.CheckpointException a file is not a checkpoint this library reads
     */
    public static CheckpointDiff of(Path a, Path b) throws IOException {
        return of(a, b, Options.exact());
    }

    /**
     * Compares the files {@code a} and {@code b}; both are opened with {@code options.read()} and closed again.
     *
     * @param a       the first file (A)
     * @param b       the second file (B)
     * @param options tolerances, what to compare and how to open the files
     * @return the differences
     * @throws IOException          a file cannot be read
     * @throws io.torchbridge.reader.CheckpointException a file is not a checkpoint this library reads
     */
    public static CheckpointDiff of(Path a, Path b, Options options) throws IOException {
        try (Checkpoint ca = Checkpoint.open(a, options.read()); Checkpoint cb = Checkpoint.open(b, options.read())) {
            return of(ca, cb, options, a.toString(), b.toString());
        }
    }

    /**
     * Compares two open checkpoints.
     *
     * @param a       the first checkpoint (A); left open
     * @param b       the second checkpoint (B); left open
     * @param options tolerances and what to compare ({@code options.read()} is not used)
     * @param labelA what the report calls A (a file name)
     * @param labelB what the report calls B
     * @return the differences
     * @throws IllegalArgumentException {@code only} names nothing on a side, or stripping the
     *                                  prefix makes two names one
     */
    public static CheckpointDiff of(Checkpoint a, Checkpoint b, Options options, String labelA, String labelB) {
        Map<String, List<Tensor>> ta = tensors(a, options, labelA);
        Map<String, List<Tensor>> tb = tensors(b, options, labelB);
        List<String> onlyA = new ArrayList<>();
        List<String> onlyB = new ArrayList<>();
        List<Change> changed = new ArrayList<>();
        for (Map.Entry<String, List<Tensor>> e : ta.entrySet()) {
            List<Tensor> other = tb.getOrDefault(e.getKey(), List.of());
            for (int i = 0; i < e.getValue().size(); i++) {
                if (i >= other.size()) {
                    onlyA.add(e.getKey());
                } else {
                    compare(e.getKey(), e.getValue().get(i), other.get(i), options, changed);
                }
            }
        }
        for (Map.Entry<String, List<Tensor>> e : tb.entrySet()) {
            int inA = ta.getOrDefault(e.getKey(), List.of()).size();
            for (int i = inA; i < e.getValue().size(); i++) {
                onlyB.add(e.getKey());
            }
        }
        Map<String, Object> va = values(a, options, labelA);
        Map<String, Object> vb = values(b, options, labelB);
        List<String> valuesChanged = new ArrayList<>();
        List<String> lines = new ArrayList<>();
        for (Map.Entry<String, Object> e : va.entrySet()) {
            boolean there = vb.containsKey(e.getKey());
            if (!there || !same(e.getValue(), vb.get(e.getKey()), options)) {
                valuesChanged.add(e.getKey());
                lines.add(e.getKey() + ": " + show(e.getValue()) + " -> " + (there ? show(vb.get(e.getKey())) : "(absent)"));
            }
        }
        for (Map.Entry<String, Object> e : vb.entrySet()) {
            if (!va.containsKey(e.getKey())) {
                valuesChanged.add(e.getKey());
                lines.add(e.getKey() + ": (absent) -> " + show(e.getValue()));
            }
        }
        return new CheckpointDiff(labelA, labelB, onlyA, onlyB, changed, valuesChanged, lines);
    }

    /** {@return what A was called} */
    public String a() {
        return a;
    }

    /** {@return what B was called} */
    public String b() {
        return b;
    }

    /** {@return whether nothing differs} */
    public boolean equal() {
        return onlyInA.isEmpty() && onlyInB.isEmpty() && changed.isEmpty() && valuesChanged.isEmpty();
    }

    /** {@return tensor names only A has, in A's order (a name A has twice and B once is listed once)} */
    public List<String> onlyInA() {
        return onlyInA;
    }

    /** {@return tensor names only B has, in B's order} */
    public List<String> onlyInB() {
        return onlyInB;
    }

    /** {@return tensors in both that differ, in A's order (a tensor whose shape and dtype differ has two entries)} */
    public List<Change> changed() {
        return changed;
    }

    /** {@return paths of non-tensor values that differ or that only one side has: A's order, then B's} */
    public List<String> valuesChanged() {
        return valuesChanged;
    }

    /**
     * @throws AssertionError if anything differs; its message is {@link #report()} (at most 50
     *                        lines), so a failing test says what changed
     */
    public void assertEqual() {
        if (!equal()) {
            List<String> lines = report().lines().toList();
            String shown = String.join("\n", lines.subList(0, Math.min(50, lines.size())));
            throw new AssertionError(shown + (lines.size() > 50 ? "\n... " + (lines.size() - 50) + " more lines" : ""));
        }
    }

    /** {@return a readable account: one line per difference, then a summary line} */
    public String report() {
        StringBuilder sb = new StringBuilder();
        for (String n : onlyInA) {
            sb.append("only in A: ").append(n).append('\n');
        }
        for (String n : onlyInB) {
            sb.append("only in B: ").append(n).append('\n');
        }
        for (Change c : changed) {
            sb.append("changed:   ").append(c).append('\n');
        }
        for (String l : valueLines) {
            sb.append("value:     ").append(l).append('\n');
        }
        if (equal()) {
            sb.append("equal: ").append(a).append(" and ").append(b).append('\n');
        } else {
            sb.append("different: ").append(a).append(" (A) and ").append(b).append(" (B): ")
                    .append(onlyInA.size()).append(" tensors only in A, ").append(onlyInB.size())
                    .append(" only in B, ").append(changed.size()).append(" changed, ")
                    .append(valuesChanged.size()).append(" values changed\n");
        }
        return sb.toString();
    }

    @Override
    public String toString() {
        return report();
    }

    // ---------------------------------------------------------------------------------------------

    /** The tensors by name after {@code only} and {@code stripPrefix}; a name listed twice keeps both, in order. */
    private static Map<String, List<Tensor>> tensors(Checkpoint c, Options o, String label) {
        boolean whole = o.only() != null && !c.has(o.only()) && c.root() instanceof Tensor;
        if (o.only() != null && !whole && !c.has(o.only())) {
            throw new IllegalArgumentException("--only " + o.only() + ": " + label + " has nothing at that path");
        }
        Map<String, List<Tensor>> out = new LinkedHashMap<>();
        for (TensorEntry e : c.entries()) {
            String n = whole ? "" : under(e.name(), o.only());
            if (n == null) {
                continue;
            }
            out.computeIfAbsent(strip(n, o.stripPrefix()), k -> new ArrayList<>()).add(e.tensor());
        }
        if (o.stripPrefix() != null) {
            refuseCollisions(c, o, label);
        }
        return out;
    }

    private static Map<String, Object> values(Checkpoint c, Options o, String label) {
        boolean whole = o.only() != null && !c.has(o.only()) && c.root() instanceof Tensor;
        Map<String, Object> out = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : c.values().entrySet()) {
            String n = whole ? e.getKey() : under(e.getKey(), o.only());
            if (n != null) {
                out.putIfAbsent(strip(n, o.stripPrefix()), e.getValue());
            }
        }
        return out;
    }

    /** Two names that stripping the prefix makes one ({@code module.x} and {@code x}) would pair wrongly. */
    private static void refuseCollisions(Checkpoint c, Options o, String label) {
        Map<String, String> seen = new LinkedHashMap<>();
        for (TensorEntry e : c.entries()) {
            String n = under(e.name(), o.only());
            if (n == null) {
                continue;
            }
            String s = strip(n, o.stripPrefix());
            String before = seen.putIfAbsent(s, n);
            if (before != null && !before.equals(n)) {
                throw new IllegalArgumentException("--strip-prefix " + o.stripPrefix() + ": in " + label + ", '"
                        + before + "' and '" + n + "' both become '" + s + "'");
            }
        }
    }

    /** {@code name} relative to {@code only}: "" for the path itself, the rest below it, null outside. */
    private static String under(String name, String only) {
        if (only == null) {
            return name;
        }
        if (name.equals(only)) {
            return "";
        }
        return name.startsWith(only) && name.length() > only.length() && name.charAt(only.length()) == '.'
                ? name.substring(only.length() + 1) : null;
    }

    private static String strip(String name, String prefix) {
        return prefix != null && name.startsWith(prefix) ? name.substring(prefix.length()) : name;
    }

    private static void compare(String name, Tensor x, Tensor y, Options o, List<Change> out) {
        DType da = x.dtype();
        DType db = y.dtype();
        long[] sa = x.shape().toArray();
        long[] sb = y.shape().toArray();
        if (x.layout() != y.layout()) {
            out.add(new Change(name, Change.Kind.LAYOUT, x.layout().pythonName(), y.layout().pythonName(), null, null));
            if (da != db) {
                out.add(new Change(name, Change.Kind.DTYPE, da.pythonName(), db.pythonName(), null, null));
            }
            return;
        }
        if (!Arrays.equals(sa, sb)) {
            if (da != db) {
                out.add(new Change(name, Change.Kind.DTYPE, da.pythonName(), db.pythonName(), null, null));
            }
            out.add(new Change(name, Change.Kind.SHAPE, sa, sb, null, null));
            return;
        }
        Elements el = null;
        if (Elements.comparable(da, db)) {
            el = new Elements(da, db, o.atol(), o.rtol());
            compareValues(x, y, el);
        }
        Long mismatched = el == null ? null : el.mismatched;
        Double max = el == null ? null : el.maxAbsDiff;
        if (da != db) {
            out.add(new Change(name, Change.Kind.DTYPE, da.pythonName(), db.pythonName(), mismatched, max));
            return;
        }
        Object qa = x.quantization().map(CheckpointDiff::quantization).orElse(null);
        Object qb = y.quantization().map(CheckpointDiff::quantization).orElse(null);
        if (!Objects.equals(qa, qb)) {
            out.add(new Change(name, Change.Kind.VALUES, qa, qb, mismatched, max));
        } else if (mismatched != null && mismatched > 0) {
            out.add(new Change(name, Change.Kind.VALUES, null, null, mismatched, max));
        }
    }

    /** Streams both tensors' logical values through {@code el}: small ones from one copy, big ones block by block. */
    private static void compareValues(Tensor x, Tensor y, Elements el) {
        DType da = x.dtype();
        DType db = y.dtype();
        long n = Elements.count(da, x.numel());
        if (n == 0) {
            return;
        }
        int wa = Elements.width(da);
        int wb = Elements.width(db);
        long bytesA = Math.multiplyExact(n, (long) wa);
        long bytesB = Math.multiplyExact(n, (long) wb);
        if (bytesA <= WHOLE && bytesB <= WHOLE) {
            el.compare(x.toByteArray(), 0, y.toByteArray(), 0, (int) n);
            return;
        }
        try (Blocks ba = new Blocks(x, bytesA, BLOCK_ELEMENTS * wa); Blocks bb = new Blocks(y, bytesB, BLOCK_ELEMENTS * wb)) {
            while (true) {
                byte[] pa = ba.next();
                byte[] pb = bb.next();
                if (pa == null || pb == null) {
                    if (pa != pb) {
                        throw new IllegalStateException("the two tensors streamed different element counts");
                    }
                    return;
                }
                el.compare(pa, 0, pb, 0, pa.length / wa);
            }
        }
    }

    /** A quantized tensor's scheme and parameters as comparable plain values (per-channel ones listed). */
    private static Map<String, Object> quantization(Quantization q) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("qscheme", q.scheme().pythonName());
        if (q instanceof Quantization.PerTensor p) {
            m.put("scale", p.scale());
            m.put("zero_point", p.zeroPoint());
        } else if (q instanceof Quantization.PerChannel p) {
            m.put("axis", (long) p.axis());
            m.put("scales", boxed(p.scales().toDoubleArray()));
            m.put("zero_points", p.zeroPoints().dtype().family() == DType.Family.FLOAT
                    ? boxed(p.zeroPoints().toDoubleArray()) : Arrays.stream(p.zeroPoints().toLongArray()).boxed().toList());
        }
        return m;
    }

    private static List<Double> boxed(double[] d) {
        return Arrays.stream(d).boxed().toList();
    }

    /** Whether two non-tensor values are the same: same type and equal, floats by the tolerance rule. */
    static boolean same(Object x, Object y, Options o) {
        if (x instanceof Double dx && y instanceof Double dy) {
            return close(dx, dy, o);
        }
        if (x instanceof PyComplex cx && y instanceof PyComplex cy) {
            return close(cx.real(), cy.real(), o) && close(cx.imag(), cy.imag(), o);
        }
        if (x instanceof byte[] bx && y instanceof byte[] by) {
            return Arrays.equals(bx, by);
        }
        if (x == null || y == null) {
            return x == y;
        }
        return x.getClass() == y.getClass() && x.equals(y);
    }

    private static boolean close(double x, double y, Options o) {
        if (x == y || (Double.isNaN(x) && Double.isNaN(y))) {
            return true;
        }
        return !Double.isInfinite(x) && !Double.isInfinite(y) && Math.abs(x - y) <= o.atol() + o.rtol() * Math.abs(y);
    }

    private static String show(Object v) {
        if (v == null) {
            return "None";
        } else if (v instanceof String s) {
            return "'" + s + "'";
        } else if (v instanceof Boolean bo) {
            return bo ? "True" : "False";
        } else if (v instanceof byte[] by) {
            return "bytes of length " + by.length;
        }
        String s = String.valueOf(v);
        return s.length() > 200 ? s.substring(0, 200) + "..." : s;
    }
}
