package io.torchbridge.cli;

import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.DType;
import io.torchbridge.reader.Quantization;
import io.torchbridge.reader.ReadOptions;
import io.torchbridge.reader.Tensor;
import io.torchbridge.reader.TensorEntry;
import io.torchbridge.reader.TensorInfo;
import io.torchbridge.reader.TensorLayout;
import io.torchbridge.reader.UnreadableTensor;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code torchbridge inspect}: what a checkpoint holds, as a table or as JSON lines. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = {"Lists the tensors of PyTorch checkpoints: name, dtype, shape, size, plus the "
                + "format, the records, total parameters and bytes.",
                "With no FILE, inspects a bundled checkpoint written by real torch 2.14."})
final class InspectCommand implements Callable<Integer> {
    static final String BUNDLED = "training_adam.pt";

    @Parameters(paramLabel = "FILE", description = "Checkpoint files (.pt, .pth, .bin); - reads standard input.")
    List<Path> files = new ArrayList<>();

    @Option(names = "--json", description = "One JSON object per file, one per line (a stable contract).")
    boolean json;

    @Option(names = "--no-hash", description = "With --json: leave out each tensor's sha256 (which reads every byte).")
    boolean noHash;

    @Option(names = "--values", description = "With --json: add the non-tensor values (epoch, loss, config) by path.")
    boolean values;

    @Mixin
    ReaderOptions reader = new ReaderOptions();

    @Override
    public Integer call() throws IOException {
        ReadOptions options = reader.readOptions();
        PrintStream out = System.out;
        if (files.isEmpty()) {
            Path tmp = bundled();
            try {
                return inspect(tmp, BUNDLED + " (bundled, written by torch 2.14.1)", options, out) ? 0 : 1;
            } finally {
                Files.deleteIfExists(tmp);
            }
        }
        boolean ok = true;
        try (StandardInput stdin = new StandardInput()) {
            for (Path f : files) {
                Path file;
                try {
                    file = stdin.resolve(f);
                } catch (IOException e) {
                    System.err.println("torchbridge: " + StandardInput.label(f) + ": IO: cannot read it: " + e);
                    ok = false;
                    continue;
                }
                ok &= inspect(file, StandardInput.label(f), options, out);
            }
        }
        return ok ? 0 : 1;
    }

    private boolean inspect(Path path, String label, ReadOptions options, PrintStream out) {
        try (Checkpoint ckpt = Checkpoint.open(path, options)) {
            if (json) {
                out.println(Json.write(jsonOf(label, ckpt, !noHash, values)));
            } else {
                table(label, ckpt, out);
            }
            out.flush();
            return true;
        } catch (IOException e) {
            String kind = e instanceof CheckpointException ce ? ce.kind().name() : "IO";
            if (json) {
                Map<String, Object> err = new LinkedHashMap<>();
                err.put("kind", kind);
                err.put("message", e.getMessage());
                Map<String, Object> line = new LinkedHashMap<>();
                line.put("schema", SCHEMA);
                line.put("file", label);
                line.put("error", err);
                out.println(Json.write(line));
            } else {
                System.err.println("torchbridge: " + label + ": " + kind + ": " + e.getMessage());
            }
            return false;
        }
    }

    /** The version of the {@code inspect --json} contract (README, "inspect --json contract"). */
    static final int SCHEMA = 1;

    static Map<String, Object> jsonOf(String label, Checkpoint ckpt) {
        return jsonOf(label, ckpt, true, false);
    }

    static Map<String, Object> jsonOf(String label, Checkpoint ckpt, boolean hash, boolean withValues) {
        List<Object> tensors = new ArrayList<>();
        for (TensorEntry e : ckpt.entries()) {
            TensorInfo info = e.tensor().info();
            Map<String, Object> t = new LinkedHashMap<>();
            t.put("name", e.name());
            t.put("dtype", info.dtype().pythonName());
            t.put("shape", info.shape().toArray());
            t.put("layout", info.layout().pythonName());
            if (info.layout() == TensorLayout.STRIDED) {
                t.put("stride", info.stride().toArray());
                t.put("storage_offset", info.storageOffset());
            }
            t.put("device", info.storage().location());
            t.put("requires_grad", info.requiresGrad());
            if (hash) {
                t.put("sha256", sha256(e.tensor()));
            }
            e.tensor().quantization().ifPresent(q -> t.put("quantization", quantization(q)));
            if (!e.tensor().components().isEmpty()) {
                Map<String, Object> parts = new LinkedHashMap<>();
                for (Map.Entry<String, Tensor> c : e.tensor().components().entrySet()) {
                    TensorInfo ci = c.getValue().info();
                    Map<String, Object> p = new LinkedHashMap<>();
                    p.put("dtype", ci.dtype().pythonName());
                    p.put("shape", ci.shape().toArray());
                    parts.put(c.getKey(), p);
                }
                t.put("components", parts);
            }
            tensors.add(t);
        }
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("schema", SCHEMA);
        line.put("file", label);
        line.put("format", ckpt.format().label());
        line.put("tensors", tensors);
        if (withValues) {
            Map<String, Object> vals = new LinkedHashMap<>();
            ckpt.values().forEach((k, v) -> vals.put(k, ValueJson.of(v)));
            line.put("values", vals);
        }
        // present only when there is something to say, as "error" is
        if (!ckpt.ambiguousNames().isEmpty()) {
            Map<String, Object> ambiguous = new LinkedHashMap<>();
            for (String n : ckpt.ambiguousNames()) {
                ambiguous.put(n, ckpt.paths(n));
            }
            line.put("ambiguous_names", ambiguous);
        }
        if (!ckpt.unreadable().isEmpty()) {
            List<Object> unreadable = new ArrayList<>();
            for (UnreadableTensor u : ckpt.unreadable()) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("name", u.name());
                m.put("rebuild", u.rebuild());
                m.put("reason", u.reason());
                unreadable.add(m);
            }
            line.put("unreadable", unreadable);
        }
        return line;
    }

    /** A quantized tensor's scheme and parameters, for --json (per-channel values listed in full). */
    static Map<String, Object> quantization(Quantization q) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("qscheme", q.scheme().pythonName());
        if (q instanceof Quantization.PerTensor p) {
            m.put("scale", number(p.scale()));
            m.put("zero_point", p.zeroPoint());
        } else if (q instanceof Quantization.PerChannel p) {
            m.put("axis", p.axis());
            m.put("scales", numbers(p.scales().toDoubleArray()));
            m.put("zero_points", p.zeroPoints().dtype().family() == DType.Family.FLOAT
                    ? numbers(p.zeroPoints().toDoubleArray()) : p.zeroPoints().toLongArray());
        }
        return m;
    }

    /** A double for JSON, which has no NaN or infinity: those (torch loads them) become strings as Python prints them. */
    private static Object number(double d) {
        if (Double.isNaN(d)) {
            return "nan";
        } else if (Double.isInfinite(d)) {
            return d > 0 ? "inf" : "-inf";
        }
        return d;
    }

    private static List<Object> numbers(double[] a) {
        List<Object> out = new ArrayList<>(a.length);
        for (double d : a) {
            out.add(number(d));
        }
        return out;
    }

    /** What the table says after a tensor's size: its layout or quantization, if any. */
    private static String note(Tensor t) {
        if (t.quantization().isPresent()) {
            Quantization q = t.quantization().get();
            if (q instanceof Quantization.PerTensor p) {
                return q.scheme() + " scale=" + p.scale() + " zero_point=" + p.zeroPoint();
            }
            return q.scheme() + " axis=" + ((Quantization.PerChannel) q).axis();
        }
        if (t.layout() == TensorLayout.NESTED) {
            return "nested, " + t.components().get("storage_offsets").numel() + " components";
        }
        if (t.layout() != TensorLayout.STRIDED) {
            return t.layout() + ", nnz=" + t.components().get("values").shape().toArray()[0];
        }
        return "";
    }

    /**
     * SHA-256 of the logical values: row-major, little-endian, conj/neg applied; for a quantized
     * tensor its integers (int_repr()), for a sparse one its dense values, for a nested one its
     * components' values concatenated.
     */
    static String sha256(Tensor t) {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        t.stream(md::update);
        return HexFormat.of().formatHex(md.digest());
    }

    private static void table(String label, Checkpoint ckpt, PrintStream out) {
        List<TensorEntry> tensors = ckpt.entries();
        int w = "NAME".length();
        for (TensorEntry e : tensors) {
            w = Math.max(w, e.name().length());
        }
        w = Math.min(w, 72);
        // One line per tensor, and a checkpoint can hold 100k+ of them: the lines are built in a
        // StringBuilder and printed in large pieces, not with a printf each (System.out flushes on
        // every newline, one write syscall per line; Formatter parses the format string every call).
        StringBuilder sb = new StringBuilder(1 << 16);
        sb.append(label).append(System.lineSeparator());
        // the legacy stream and tar have no archive folder (and the tar no version)
        sb.append(String.format("  format    %s, version %d%s, %s-endian%n", ckpt.format().label(),
                ckpt.formatVersion(), ckpt.archiveName().isEmpty() ? "" : ", archive '" + ckpt.archiveName() + "'",
                ckpt.byteOrder() == ByteOrder.LITTLE_ENDIAN ? "little" : "big"));
        sb.append("  records   ").append(summarize(ckpt.records())).append(System.lineSeparator());
        row(sb, w, "NAME", "DTYPE", "SHAPE", "SIZE");
        Set<Tensor> distinct = Collections.newSetFromMap(new IdentityHashMap<>());
        Map<String, Long> storages = new LinkedHashMap<>();
        long params = 0;
        for (TensorEntry e : tensors) {
            TensorInfo info = e.tensor().info();
            row(sb, w, e.name(), info.dtype().pythonName(), info.shape().toString(), bytes(info.nbytes()));
            String note = note(e.tensor());
            if (!note.isEmpty()) {
                sb.setLength(sb.length() - System.lineSeparator().length());
                sb.append("  ").append(note).append(System.lineSeparator());
            }
            if (sb.length() >= 1 << 16) {
                out.print(sb);
                sb.setLength(0);
            }
            if (distinct.add(e.tensor())) {
                params += info.numel();
            }
            storages.put(info.storage().key(), info.storage().nbytes());
            List<Tensor> parts = new ArrayList<>(e.tensor().components().values());
            if (e.tensor().quantization().orElse(null) instanceof Quantization.PerChannel p) {
                parts.add(p.scales());
                parts.add(p.zeroPoints());
            }
            for (Tensor c : parts) {
                storages.put(c.info().storage().key(), c.info().storage().nbytes());
            }
        }
        for (UnreadableTensor u : ckpt.unreadable()) {
            row(sb, w, u.name(), "unreadable", "-", "-");
        }
        out.print(sb);
        long total = storages.values().stream().mapToLong(Long::longValue).sum();
        out.printf("  %d tensors, %,d parameters (elements), %s of tensor data in %d storages%n",
                tensors.size(), params, bytes(total), storages.size());
        for (String n : ckpt.ambiguousNames()) {
            List<String> shown = new ArrayList<>();
            for (List<String> keys : ckpt.paths(n)) {
                shown.add(Checkpoint.keyPath(keys));
            }
            out.printf("  ! name '%s' is produced by %d paths: %s%n", n, shown.size(), String.join(" and ", shown));
        }
        for (UnreadableTensor u : ckpt.unreadable()) {
            out.printf("  ! '%s' is not read: %s%n", u.name(), u.reason());
        }
    }

    /** One table line, as {@code printf("  %-Ws  %-15s  %-20s  %10s%n", ...)} would print it. */
    private static void row(StringBuilder sb, int w, String name, String dtype, String shape, String size) {
        sb.append("  ");
        padRight(sb, name, w).append("  ");
        padRight(sb, dtype, 15).append("  ");
        padRight(sb, shape, 20).append("  ");
        sb.append(" ".repeat(Math.max(0, 10 - size.length()))).append(size).append(System.lineSeparator());
    }

    private static StringBuilder padRight(StringBuilder sb, String s, int width) {
        sb.append(s);
        for (int i = s.length(); i < width; i++) {
            sb.append(' ');
        }
        return sb;
    }

    /** Record names with the data/N run folded into one item. */
    private static String summarize(List<String> records) {
        List<String> shown = new ArrayList<>();
        int data = 0;
        for (String r : records) {
            if (r.startsWith("data/")) {
                if (data++ == 0) {
                    shown.add("data/*");
                }
            } else {
                shown.add(r);
            }
        }
        String s = String.join(", ", shown);
        return data > 0 ? s.replace("data/*", "data/* (" + data + " storages)") : s;
    }

    static String bytes(long n) {
        if (n < 1024) {
            return n + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = n;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    private static Path bundled() throws IOException {
        Path tmp = Files.createTempFile("torchbridge-", "-" + BUNDLED);
        try (InputStream in = InspectCommand.class.getResourceAsStream(BUNDLED)) {
            if (in == null) {
                throw new IOException("the bundled fixture " + BUNDLED + " is missing from the jar");
            }
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
        }
        return tmp;
    }
}
