package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.torchbridge.reader.diff.CheckpointDiff;
import io.torchbridge.testing.Repo;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code torchbridge diff} and {@link CheckpointDiff} against pairs torch 2.14 wrote
 * ({@code fixtures/diff/generate_diff.py}): each case's exit code and JSON come from torch's own
 * computation ({@code torch.isclose}, {@code (a - b).abs()} in the wider dtype), never from ours.
 */
class DiffCliTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path DIR = Repo.fixtures().resolve("diff");

    @TempDir
    Path tmp;

    @TestFactory
    Stream<DynamicTest> everyCommittedPairGivesTorchsAnswer() throws Exception {
        return cases(DIR).stream().map(c -> dynamicTest(c.get("title").asText(), () -> check(DIR, c)));
    }

    /** The same pairs written afresh by torch 2.14 in this run, and checked the same way. */
    @Test
    void freshPairsFromTorchGiveTorchsAnswer() throws Exception {
        TorchMatrix.Torch torch = TorchMatrix.require("2.14.1");
        torch.run(600, Repo.fixtures().resolve("diff/generate_diff.py").toString(), tmp.toString());
        List<JsonNode> cases = cases(tmp);
        assertTrue(cases.size() >= 15, "cases: " + cases.size());
        for (JsonNode c : cases) {
            check(tmp, c);
        }
    }

    private static List<JsonNode> cases(Path dir) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        JSON.readTree(dir.resolve("cases.json").toFile()).get("cases").forEach(out::add);
        return out;
    }

    private static void check(Path dir, JsonNode c) throws Exception {
        JsonNode want = c.get("expected");
        String a = dir.resolve(want.get("a").asText()).toString();
        String b = dir.resolve(want.get("b").asText()).toString();
        List<String> args = new ArrayList<>(List.of("diff", "--json"));
        c.get("args").forEach(x -> args.add(x.asText()));
        args.add(a);
        args.add(b);
        CliRun r = CliRun.of(args.toArray(String[]::new));
        String where = c.get("title").asText() + ": " + r.out() + r.err();
        assertEquals(c.get("exit").asInt(), r.exit(), where);
        JsonNode got = JSON.readTree(r.out());
        assertEquals(List.of("a", "b", "equal", "only_in_a", "only_in_b", "changed", "values_changed"), fieldNames(got), where);
        assertEquals(a, got.get("a").asText(), where);
        assertEquals(b, got.get("b").asText(), where);
        for (String f : List.of("equal", "only_in_a", "only_in_b", "values_changed")) {
            assertEquals(want.get(f), got.get(f), where + " " + f);
        }
        assertEquals(want.get("changed").size(), got.get("changed").size(), where);
        for (int i = 0; i < want.get("changed").size(); i++) {
            JsonNode w = want.get("changed").get(i);
            JsonNode g = got.get("changed").get(i);
            assertEquals(List.of("name", "kind", "a", "b", "mismatched", "max_abs_diff"), fieldNames(g), where);
            for (String f : List.of("name", "kind", "a", "b", "mismatched")) {
                assertEquals(w.get(f), g.get(f), where + " " + f);
            }
            JsonNode wd = w.get("max_abs_diff");
            JsonNode gd = g.get("max_abs_diff");
            if (wd.isNumber()) {
                assertEquals(wd.asDouble(), gd.asDouble(), 0.0, where + " max_abs_diff"); // the same float64 arithmetic
            } else {
                assertEquals(wd, gd, where + " max_abs_diff");
            }
        }
        // the Java API gives what the command prints
        assertEquals(c.get("exit").asInt() == 0, CheckpointDiff.of(Path.of(a), Path.of(b), options(c.get("args"))).equal());
    }

    private static CheckpointDiff.Options options(JsonNode args) {
        CheckpointDiff.Options o = CheckpointDiff.Options.exact();
        for (int i = 0; i < args.size(); i += 2) {
            String v = args.get(i + 1).asText();
            o = switch (args.get(i).asText()) {
                case "--atol" -> o.withTolerance(Double.parseDouble(v), o.rtol());
                case "--rtol" -> o.withTolerance(o.atol(), Double.parseDouble(v));
                case "--strip-prefix" -> o.withStripPrefix(v);
                case "--only" -> o.withOnly(v);
                default -> throw new IllegalArgumentException(args.get(i).asText());
            };
        }
        return o;
    }

    @Test
    void aJunitTestAssertsEqualityInOneLine() throws Exception {
        CheckpointDiff.of(DIR.resolve("base.pt"), DIR.resolve("base_legacy.pt")).assertEqual();
        AssertionError e = assertThrows(AssertionError.class,
                () -> CheckpointDiff.of(DIR.resolve("base.pt"), DIR.resolve("one_element.pt")).assertEqual());
        assertTrue(e.getMessage().startsWith("changed:   model.fc1.weight: values: 1 elements differ, max |a-b| 0.49999998"),
                e.getMessage());
        e = assertThrows(AssertionError.class,
                () -> CheckpointDiff.of(DIR.resolve("base.pt"), DIR.resolve("epoch.pt")).assertEqual());
        assertTrue(e.getMessage().startsWith("value:     epoch: 5 -> 6\n"), e.getMessage());
    }

    @Test
    void theTextReportSaysWhatDiffers() {
        CliRun r = CliRun.of("diff", DIR.resolve("base.pt").toString(), DIR.resolve("renamed.pt").toString());
        assertEquals(1, r.exit(), r.err());
        assertTrue(r.out().startsWith("only in A: model.fc2.bias\nonly in B: model.fc2.b\ndifferent: "), r.out());
        CliRun same = CliRun.of("diff", DIR.resolve("base.pt").toString(), DIR.resolve("base_again.pt").toString());
        assertEquals(0, same.exit(), same.err());
        assertTrue(same.out().startsWith("equal: "), same.out());
    }

    @Test
    void mistakesExitTwoWithOneLine() {
        String base = DIR.resolve("base.pt").toString();
        CliRun missing = CliRun.of("diff", base, tmp.resolve("nope.pt").toString());
        assertEquals(2, missing.exit());
        assertTrue(missing.err().startsWith("torchbridge diff: IO: cannot open "), missing.err());
        assertEquals(1, missing.err().lines().count(), missing.err());
        CliRun only = CliRun.of("diff", "--json", "--only", "optimizer", base, base);
        assertEquals(2, only.exit());
        assertTrue(only.out().contains("\"error\":{\"kind\":\"USAGE\",\"message\":\"--only optimizer: "), only.out());
        assertEquals(2, CliRun.of("diff", "--atol", "-1", base, base).exit());
        assertEquals(2, CliRun.of("diff", base).exit());
    }

    /**
     * Tensors too big to compare from one copy stream block by block (CheckpointDiff.WHOLE is 8 MiB),
     * a transposed one too; quantized ones compare int_repr() and their parameters, sparse ones their
     * dense values. Torch writes the pairs and prints its own numbers.
     */
    @Test
    void bigQuantizedAndSparseTensorsAgainstTorch() throws Exception {
        TorchMatrix.Torch torch = TorchMatrix.require("2.14.1");
        String out = torch.run(600, "-c", String.join("\n",
                "import sys, json, torch",
                "d = sys.argv[1]",
                "g = torch.Generator().manual_seed(3)",
                "big = torch.randn(1500, 2000, generator=g)",
                "a = {'big': big, 'bigT': big.t(), 'wide': big[:700], 'q': torch.quantize_per_tensor(big[0, :64], 0.1, 3, torch.qint8),",
                "     's': torch.eye(5).to_sparse()}",
                "b = {k: v for k, v in a.items()}",
                "b['big'] = big.clone(); b['big'][7, 11] = float('nan'); b['big'][1499, 1999] += 2.5",
                "b['bigT'] = big.t().contiguous(); b['bigT'][3, 4] -= 1.0",
                "b['wide'] = big[:700].bfloat16()",
                "b['q'] = torch.quantize_per_tensor(big[0, :64], 0.2, 3, torch.qint8)",
                "s = torch.eye(5); s[2, 3] = 4.0; b['s'] = s.to_sparse()",
                "torch.save(a, d + '/a.pt'); torch.save(b, d + '/b.pt')",
                "def num(x, y):",
                "    w = torch.float64",
                "    x, y = x.to(w), y.to(w)",
                "    eq = (x == y) | (x.isnan() & y.isnan())",
                "    dd = (x - y).abs(); dd[eq] = 0",
                "    m = dd.max().item()",
                "    return [int((~eq).sum()), 'nan' if m != m else m]",
                "res = {'big': num(a['big'], b['big']), 'bigT': num(a['bigT'], b['bigT']), 'wide': num(a['wide'], b['wide']),",
                "       'q': num(a['q'].int_repr(), b['q'].int_repr()), 's': num(a['s'].to_dense(), b['s'].to_dense())}",
                "print('RESULT', json.dumps(res))"), tmp.toString());
        JsonNode want = JSON.readTree(out.lines().filter(l -> l.startsWith("RESULT ")).findFirst().orElseThrow().substring(7));
        CliRun r = CliRun.of("diff", "--json", tmp.resolve("a.pt").toString(), tmp.resolve("b.pt").toString());
        assertEquals(1, r.exit(), r.err());
        JsonNode changed = JSON.readTree(r.out()).get("changed");
        assertEquals(5, changed.size(), r.out());
        for (JsonNode c : changed) {
            JsonNode w = want.get(c.get("name").asText());
            assertEquals(w.get(0).asLong(), c.get("mismatched").asLong(), c.toString());
            if (w.get(1).isNumber()) {
                assertEquals(w.get(1).asDouble(), c.get("max_abs_diff").asDouble(), 0.0, c.toString());
            } else {
                assertEquals(w.get(1).asText(), c.get("max_abs_diff").asText(), c.toString());
            }
            switch (c.get("name").asText()) {
                case "wide" -> assertEquals("dtype", c.get("kind").asText());
                case "q" -> {
                    assertEquals("values", c.get("kind").asText());
                    assertEquals(0.1, c.get("a").get("scale").asDouble(), 1e-9, c.toString());
                    assertEquals(0.2, c.get("b").get("scale").asDouble(), 1e-9, c.toString());
                }
                default -> assertEquals("values", c.get("kind").asText(), c.toString());
            }
        }
    }

    private static List<String> fieldNames(JsonNode n) {
        List<String> names = new ArrayList<>();
        n.fieldNames().forEachRemaining(names::add);
        return names;
    }
}
