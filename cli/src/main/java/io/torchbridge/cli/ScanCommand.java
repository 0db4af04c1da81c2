package io.torchbridge.cli;

import io.torchbridge.reader.scan.Scan;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code torchbridge scan}: what a checkpoint's pickle would do, found without running it. */
@Command(name = "scan", mixinStandardHelpOptions = true,
        description = {"Lists every global a checkpoint's pickle names, whether torch 2.14's "
                + "torch.load(weights_only=True) accepts it and whether TorchBridge does by default, the opcodes "
                + "used and dangerous patterns. Nothing in the file is run.",
                "Directories are scanned recursively: one line per file, then a summary. - reads standard input.",
                "Exit status: 0 every file clean, 1 something dangerous found, 2 a file could not be scanned "
                        + "(and nothing dangerous found)."})
final class ScanCommand implements Callable<Integer> {
    @Parameters(paramLabel = "FILE", arity = "1..*", description = "Files or directories; - is standard input.")
    List<Path> files = new ArrayList<>();

    @Option(names = "--json", description = "One JSON object per file, one per line.")
    boolean json;

    @Override
    public Integer call() throws IOException {
        PrintStream out = System.out;
        Scan.Verdict worst = Scan.Verdict.CLEAN;
        try (StandardInput stdin = new StandardInput()) {
            for (Path f : files) {
                if (Files.isDirectory(f) && !Files.isRegularFile(f.resolve(".metadata"))) {
                    worst = worst.worst(directory(f, out));
                    continue;
                }
                Scan.Report r;
                try {
                    r = relabel(Scan.scan(stdin.resolve(f)), StandardInput.label(f));
                } catch (IOException e) {
                    r = new Scan.Report(StandardInput.label(f), "unknown", List.of(), Map.of(),
                            List.of("does not read: " + e), false, false, e.toString(), Scan.Verdict.UNREADABLE);
                }
                worst = worst.worst(r.verdict());
                if (json) {
                    out.println(Json.write(jsonOf(r)));
                } else {
                    text(r, out);
                }
            }
        }
        out.flush();
        return worst.exitCode();
    }

    /**
     * Every regular file below {@code dir}, in path order: one line each (one JSON object each
     * with --json), then a summary line (text only). Symbolic links are not followed.
     */
    private Scan.Verdict directory(Path dir, PrintStream out) throws IOException {
        List<Path> found;
        try (Stream<Path> walk = Files.walk(dir)) {
            found = walk.filter(Files::isRegularFile).sorted().toList();
        }
        Map<Scan.Verdict, Integer> counts = new EnumMap<>(Scan.Verdict.class);
        Scan.Verdict worst = Scan.Verdict.CLEAN;
        for (Path p : found) {
            Scan.Report r = Scan.scan(p);
            counts.merge(r.verdict(), 1, Integer::sum);
            worst = worst.worst(r.verdict());
            if (json) {
                out.println(Json.write(jsonOf(r)));
            } else {
                out.printf("%s: %s%n", r.file(), oneLine(r));
            }
        }
        if (!json) {
            out.printf("%s: %d files: %d clean, %d NOT CLEAN, %d UNREADABLE%n", dir, found.size(),
                    counts.getOrDefault(Scan.Verdict.CLEAN, 0), counts.getOrDefault(Scan.Verdict.DANGEROUS, 0),
                    counts.getOrDefault(Scan.Verdict.UNREADABLE, 0));
        }
        return worst;
    }

    /** The verdict, the kind, and the first finding or why it was not scanned. */
    private static String oneLine(Scan.Report r) {
        String why = !r.findings().isEmpty() ? r.findings().get(0) : r.error();
        return verdictWord(r) + " (" + r.format() + ")" + (why == null ? "" : ": " + why);
    }

    private static String verdictWord(Scan.Report r) {
        return switch (r.verdict()) {
            case CLEAN -> "clean";
            case DANGEROUS -> "NOT CLEAN";
            case UNREADABLE -> "UNREADABLE";
        };
    }

    private static Scan.Report relabel(Scan.Report r, String label) {
        return label.equals(r.file()) ? r : new Scan.Report(label, r.format(), r.globals(), r.opcodes(), r.findings(),
                r.torchWouldLoad(), r.readsByDefault(), r.error(), r.verdict());
    }

    static Map<String, Object> jsonOf(Scan.Report r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("file", r.file());
        m.put("format", r.format());
        m.put("clean", r.clean());
        m.put("verdict", r.verdict().name().toLowerCase(java.util.Locale.ROOT));
        m.put("torch_weights_only_loads", r.torchWouldLoad());
        m.put("torchbridge_reads", r.readsByDefault());
        List<Object> globals = new ArrayList<>();
        for (Scan.GlobalUse g : r.globals()) {
            Map<String, Object> gm = new LinkedHashMap<>();
            gm.put("name", g.name());
            gm.put("count", g.count());
            gm.put("torch_accepts", g.torchAccepts());
            gm.put("torchbridge_accepts", g.acceptedByDefault());
            gm.put("danger", g.danger());
            globals.add(gm);
        }
        m.put("globals", globals);
        m.put("opcodes", new LinkedHashMap<Object, Object>(r.opcodes()));
        m.put("findings", r.findings());
        if (r.error() != null) {
            m.put("error", r.error());
        }
        return m;
    }

    private static void text(Scan.Report r, PrintStream out) {
        out.printf("%s: %s%n", r.file(), verdictWord(r));
        if (r.globals().isEmpty() && r.opcodes().isEmpty() && r.error() != null) {
            // not a pickle we scanned: what the file is, and why (or why it needs no scan)
            out.printf("  format %s; %s%n", r.format(), r.error());
            return;
        }
        out.printf("  format %s; torch.load(weights_only=True) would %s; TorchBridge %s it by default%n", r.format(),
                r.torchWouldLoad() ? "load it" : "refuse it", r.readsByDefault() ? "reads" : "refuses");
        if (!r.globals().isEmpty()) {
            out.printf("  %-50s %5s  %-6s %-11s %s%n", "GLOBAL", "USES", "TORCH", "TORCHBRIDGE", "DANGER");
            for (Scan.GlobalUse g : r.globals()) {
                out.printf("  %-50s %5d  %-6s %-11s %s%n", g.name(), g.count(), g.torchAccepts() ? "yes" : "no",
                        g.acceptedByDefault() ? "yes" : "no", g.danger() == null ? "" : g.danger());
            }
        }
        out.printf("  opcodes: %s%n", String.join(" ", new TreeSet<>(r.opcodes().keySet())));
        for (String f : r.findings()) {
            out.printf("  ! %s%n", f);
        }
    }
}
