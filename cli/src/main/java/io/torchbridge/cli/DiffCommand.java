package io.torchbridge.cli;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.diff.CheckpointDiff;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code torchbridge diff A B}: what differs between two checkpoints ({@link CheckpointDiff}). */
@Command(name = "diff", mixinStandardHelpOptions = true,
        description = {"Compares two checkpoints of any format the reader opens: tensors by name (only in A, "
                + "only in B, dtype, shape or values changed, with the count of mismatched elements and the max "
                + "abs difference; NaN equals NaN in the same place), and non-tensor values by path.",
                "Exit status: 0 equal, 1 different, 2 error."})
final class DiffCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "A")
    Path a;

    @Parameters(index = "1", paramLabel = "B")
    Path b;

    @Option(names = "--atol", paramLabel = "X", description = "Absolute tolerance (default 0: exact). Elements "
            + "match when |a - b| <= atol + rtol * |b|, as numpy.allclose and torch.allclose have it.")
    double atol;

    @Option(names = "--rtol", paramLabel = "X", description = "Relative tolerance, of B's value (default 0: exact).")
    double rtol;

    @Option(names = "--strip-prefix", paramLabel = "P",
            description = "Remove P from the start of every name on both sides (DDP's 'module.').")
    String stripPrefix;

    @Option(names = "--only", paramLabel = "PATH",
            description = "Compare only the sub-dict (or tensor) at PATH on both sides, e.g. model_state_dict; "
                    + "a side that is one bare tensor (.npy) is taken whole.")
    String only;

    @Option(names = "--json", description = "One JSON object: a, b, equal, only_in_a, only_in_b, changed, values_changed.")
    boolean json;

    @Mixin
    ReaderOptions reader = new ReaderOptions();

    @Override
    public Integer call() {
        CheckpointDiff d;
        try {
            CheckpointDiff.Options options = CheckpointDiff.Options.exact().withTolerance(atol, rtol)
                    .withStripPrefix(stripPrefix).withOnly(only)
                    .withReadOptions(reader.readOptions());
            d = CheckpointDiff.of(a, b, options);
        } catch (IOException e) {
            return error(e instanceof CheckpointException ce ? ce.kind().name() : "IO", e.getMessage());
        } catch (IllegalArgumentException | IllegalStateException e) {
            return error("USAGE", e.getMessage());
        }
        if (json) {
            System.out.println(Json.write(json(d)));
        } else {
            System.out.print(d.report());
        }
        System.out.flush();
        return d.equal() ? 0 : 1;
    }

    private int error(String kind, String message) {
        if (json) {
            Map<String, Object> err = new LinkedHashMap<>();
            err.put("kind", kind);
            err.put("message", message);
            Map<String, Object> line = new LinkedHashMap<>();
            line.put("a", a.toString());
            line.put("b", b.toString());
            line.put("error", err);
            System.out.println(Json.write(line));
        }
        System.err.println("torchbridge diff: " + kind + ": " + message);
        return 2;
    }

    /** The {@code --json} object, in the shape. */
    static Map<String, Object> json(CheckpointDiff d) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("a", d.a());
        m.put("b", d.b());
        m.put("equal", d.equal());
        m.put("only_in_a", d.onlyInA());
        m.put("only_in_b", d.onlyInB());
        List<Object> changed = new ArrayList<>();
        for (CheckpointDiff.Change c : d.changed()) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("name", c.name());
            e.put("kind", c.kind().label());
            e.put("a", plain(c.a()));
            e.put("b", plain(c.b()));
            e.put("mismatched", c.mismatched());
            e.put("max_abs_diff", c.maxAbsDiff() == null ? null : number(c.maxAbsDiff()));
            changed.add(e);
        }
        m.put("changed", changed);
        m.put("values_changed", d.valuesChanged());
        return m;
    }

    /** Quantization parameters may hold NaN or infinite doubles, which JSON lacks. */
    private static Object plain(Object v) {
        if (v instanceof Double x) {
            return number(x);
        } else if (v instanceof Map<?, ?> map) {
            Map<String, Object> out = new LinkedHashMap<>();
            map.forEach((k, x) -> out.put(String.valueOf(k), plain(x)));
            return out;
        } else if (v instanceof List<?> l) {
            return l.stream().map(DiffCommand::plain).toList();
        }
        return v;
    }

    /** A double for JSON: NaN and infinities as the strings Python prints, as inspect --json has them. */
    static Object number(double d) {
        if (Double.isNaN(d)) {
            return "nan";
        } else if (Double.isInfinite(d)) {
            return d > 0 ? "inf" : "-inf";
        }
        return d;
    }
}
