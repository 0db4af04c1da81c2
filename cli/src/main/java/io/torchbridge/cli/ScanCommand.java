package io.torchbridge.cli;

import io.torchbridge.reader.scan.Scan;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code torchbridge scan}: what a checkpoint's pickle would do, found without running it. */
@Command(name = "scan", mixinStandardHelpOptions = true,
        description = {"Lists every global a checkpoint's pickle names, whether torch 2.14's "
                + "torch.load(weights_only=True) accepts it and whether TorchBridge does by default, the opcodes "
                + "used and dangerous patterns. Nothing in the file is run.",
                "Exit status: 0 when every file is clean, 1 when any is not."})
final class ScanCommand implements Callable<Integer> {
    @Parameters(paramLabel = "FILE", arity = "1..*")
    List<Path> files = new ArrayList<>();

    @Option(names = "--json", description = "One JSON object per file, one per line.")
    boolean json;

    @Override
    public Integer call() {
        PrintStream out = System.out;
        boolean allClean = true;
        for (Path f : files) {
            Scan.Report r = Scan.scan(f);
            allClean &= r.clean();
            if (json) {
                out.println(Json.write(jsonOf(r)));
            } else {
                text(r, out);
            }
        }
        out.flush();
        return allClean ? 0 : 1;
    }

    static Map<String, Object> jsonOf(Scan.Report r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("file", r.file());
        m.put("format", r.format());
        m.put("clean", r.clean());
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
        out.printf("%s: %s%n", r.file(), r.clean() ? "clean" : "NOT CLEAN");
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
