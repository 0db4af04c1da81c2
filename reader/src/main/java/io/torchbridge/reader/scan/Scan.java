package io.torchbridge.reader.scan;

import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.ReadOptions;
import io.torchbridge.reader.internal.data.MappedFile;
import io.torchbridge.reader.internal.format.LegacyStream;
import io.torchbridge.reader.internal.format.LegacyTar;
import io.torchbridge.reader.internal.format.TorchScript;
import io.torchbridge.reader.internal.format.TorchZip;
import io.torchbridge.reader.internal.pickle.Allowlist;
import io.torchbridge.reader.internal.pickle.PickleScanner;
import io.torchbridge.reader.internal.zip.ZipContainer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/**
 * What a checkpoint's pickle would do if loaded, found without loading it (the job picklescan
 * does): every global it names, whether PyTorch 2.14's {@code torch.load(weights_only=True)}
 * accepts it and whether this reader does by default, the opcodes used, and dangerous patterns
 * (code execution, network, nested pickles).
 */
public final class Scan {
    /**
     * One global the pickle names.
     *
     * @param torchAccepts      on torch 2.14's weights_only allowlist and not in a blocked module
     * @param acceptedByDefault what {@link Checkpoint#open(Path)} admits (the same allowlist)
     * @param danger            why it is dangerous, or null
     */
    public record GlobalUse(String name, int count, long firstOffset, boolean torchAccepts,
                            boolean acceptedByDefault, String danger) {
    }

    /**
     * A file's scan.
     *
     * @param torchWouldLoad whether torch 2.14's {@code torch.load(path, weights_only=True)} would load it
     * @param readsByDefault whether {@link Checkpoint#open(Path)} reads it
     * @param findings       what makes the file not clean, one line each
     * @param error          why the file could not be scanned or read, or null
     */
    public record Report(String file, String format, List<GlobalUse> globals, Map<String, Integer> opcodes,
                         List<String> findings, boolean torchWouldLoad, boolean readsByDefault, String error) {
        /** Nothing dangerous, nothing outside the allowlist, and the file reads. */
        public boolean clean() {
            return findings.isEmpty() && readsByDefault;
        }
    }

    private Scan() {
    }

    /**
     * Scans {@code path}. Never throws on a bad file: what could not be read is in the report's
     * findings and {@link Report#error()}.
     */
    public static Report scan(Path path) {
        List<String> findings = new ArrayList<>();
        String format = "unknown";
        byte[] pickle = null;
        // The legacy stream's five pickles (or a tar's object pickle), each walked on its own:
        // each ends with its STOP, and what follows it is the next pickle, not hidden bytes.
        List<LegacyStream.Part> parts = null;
        Map<String, byte[]> otherPickles = new LinkedHashMap<>();
        String pickleName = "data.pkl";
        boolean torchScript = false;
        try (MappedFile file = MappedFile.open(path)) {
            byte[] head = file.size() >= 4 ? file.read(0, 4) : new byte[0];
            if (!(head.length == 4 && head[0] == 'P' && head[1] == 'K') && LegacyStream.matches(file)) {
                format = "legacy";
                parts = new LegacyStream(file).pickles(ReadOptions.defaults().maxPickleBytes());
            } else if (!(head.length == 4 && head[0] == 'P' && head[1] == 'K') && LegacyTar.matches(file)) {
                format = "tar";
                parts = LegacyTar.open(file).pickles(ReadOptions.defaults().maxPickleBytes());
                // torch/serialization.py, _legacy_load.legacy_load: refused before anything is read
                findings.add("a legacy tar checkpoint (torch before 0.1.10): torch.load(weights_only=True) refuses "
                        + "it; TorchBridge reads it without running anything");
            } else if (head.length == 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) {
                format = "zip";
                try (ZipContainer zip = ZipContainer.open(file, true)) {
                    for (String d : zip.duplicates()) {
                        findings.add("record " + d + " appears twice: torch reads the first, other tools may read "
                                + "the second (a crafted archive)");
                    }
                    // torch.load's own test (torch/serialization.py, _is_torchscript_zip); torch 2.6+
                    // refuses such an archive under weights_only=True (and loads it with torch.jit.load
                    // otherwise), so the verdict below is a refusal. It is no finding: a scripted model is
                    // a normal file, which the reader lists as its state_dict.
                    torchScript = TorchScript.isTorchScript(zip);
                    if (torchScript) {
                        format = "torchscript";
                        // the archive's other pickles: constants.pkl (torch.jit.load unpickles it) and
                        // traced_inputs.pkl (a traced module's example inputs, torch 2.x): their globals count too
                        for (String name : List.of("constants.pkl", "traced_inputs.pkl")) {
                            Optional<ZipContainer.Entry> e = zip.entry(name);
                            if (e.isPresent()) {
                                otherPickles.put(name, zip.read(file, e.get(), ReadOptions.defaults().maxPickleBytes()));
                            }
                        }
                    }
                    Optional<ZipContainer.Entry> pkl = zip.entry("data.pkl");
                    if (pkl.isEmpty() && torchScript && zip.entry("model.json").isPresent()) {
                        // the 1.0-1.2 layout: its one pickle is attributes.pkl, absent before protoVersion 2
                        pickleName = "attributes.pkl";
                        pkl = zip.entry(pickleName);
                        if (pkl.isEmpty()) {
                            pickle = new byte[] {(byte) 0x80, 2, ')', '.'}; // nothing pickled: an empty tuple
                        }
                    }
                    if (pkl.isPresent()) {
                        pickle = zip.read(file, pkl.get(), ReadOptions.defaults().maxPickleBytes());
                    }
                }
            } else if (head.length > 0 && (head[0] & 0xFF) == 0x80) {
                format = "pickle";
                pickle = file.read(0, (int) Math.min(file.size(), ReadOptions.defaults().maxPickleBytes()));
                findings.add("a bare pickle, not a torch.save checkpoint: torch.load cannot read it safely");
            }
        } catch (IOException e) {
            return unreadable(path, format, e);
        }
        if (parts != null) {
            return scanParts(path, format, parts, findings);
        }
        if (pickle == null) {
            return unreadable(path, format, new IOException("no pickle to scan (no data.pkl record)"));
        }

        PickleScanner.Result r = PickleScanner.scan(pickle);
        Map<String, GlobalUse> uses = new LinkedHashMap<>();
        Map<String, String> where = new LinkedHashMap<>();
        addGlobals(r, pickleName, torchScript, uses, where);
        globalFindings(uses, where, findings);
        for (Map.Entry<String, byte[]> other : otherPickles.entrySet()) {
            for (PickleScanner.GlobalRef g : PickleScanner.scan(other.getValue()).globals()) {
                String danger = Dangers.of(g.module(), g.name());
                if (danger != null) {
                    findings.add(String.format("%s at %s+0x%X: %s", g.fullName(), other.getKey(), g.offset(), danger));
                }
            }
        }
        if (r.trailingAt() >= 0) {
            findings.add(String.format("%s+0x%X: bytes after the pickle's STOP (a second pickle hidden "
                    + "behind the first: torch ignores it, TorchBridge refuses the file)", pickleName, r.trailingAt()));
        }
        if (r.error() != null) {
            findings.add(String.format("malformed pickle at %s+0x%X: %s", pickleName, r.errorOffset(), r.error()));
        }

        String error = null;
        boolean reads = false;
        try (Checkpoint c = Checkpoint.open(path)) {
            reads = true;
        } catch (IOException e) {
            error = e.getMessage();
            if (!(e instanceof CheckpointException ce && ce.kind() == CheckpointException.Kind.DISALLOWED_GLOBAL)) {
                findings.add("does not read: " + e.getMessage());
            }
        }
        // torch reads the first pickle only: its verdict depends on what comes before the first STOP
        byte[] pkl = pickle;
        PickleScanner.Result first = r.trailingAt() < 0 ? r
                : PickleScanner.scan(java.util.Arrays.copyOf(pkl, (int) r.trailingAt()));
        TreeSet<String> firstForeign = new TreeSet<>(first.opcodes().keySet());
        firstForeign.removeAll(PickleScanner.TORCH_OPCODES);
        boolean torchLoads = "zip".equals(format) && first.error() == null && firstForeign.isEmpty()
                && first.globals().stream().allMatch(g -> !Allowlist.isBlockedModule(g.module())
                        && Allowlist.allowedByDefault(g.fullName()))
                && (reads || structurallyValid(path));
        return new Report(path.toString(), format, List.copyOf(uses.values()), r.opcodes(), findings, torchLoads,
                reads, error);
    }

    /**
     * The legacy stream's pickles (or a legacy tar's), each walked separately. torch's
     * weights_only loader reads all five pickles of the stream with the same restrictions, so its
     * verdict needs every one of them clean; the tar it refuses outright.
     */
    private static Report scanParts(Path path, String format, List<LegacyStream.Part> parts, List<String> findings) {
        Map<String, GlobalUse> uses = new LinkedHashMap<>();
        Map<String, String> where = new LinkedHashMap<>();
        Map<String, Integer> opcodes = new LinkedHashMap<>();
        boolean torchParses = !"tar".equals(format) && parts.size() == LegacyStream.PARTS.size() - 1;
        for (LegacyStream.Part part : parts) {
            PickleScanner.Result r = PickleScanner.scan(part.bytes());
            addGlobals(r, part.name(), false, uses, where);
            r.opcodes().forEach((k, v) -> opcodes.merge(k, v, Integer::sum));
            if (r.error() != null) {
                findings.add(String.format("malformed pickle at %s+0x%X: %s", part.name(), r.errorOffset(), r.error()));
                torchParses = false;
            }
            TreeSet<String> foreign = new TreeSet<>(r.opcodes().keySet());
            foreign.removeAll(PickleScanner.TORCH_OPCODES);
            torchParses &= foreign.isEmpty();
        }
        globalFindings(uses, where, findings);
        String error = null;
        boolean reads = false;
        try (Checkpoint c = Checkpoint.open(path)) {
            reads = true;
        } catch (IOException e) {
            error = e.getMessage();
            if (!(e instanceof CheckpointException ce && ce.kind() == CheckpointException.Kind.DISALLOWED_GLOBAL)) {
                findings.add("does not read: " + e.getMessage());
            }
        }
        boolean torchLoads = torchParses && uses.values().stream().allMatch(GlobalUse::torchAccepts)
                && (reads || structurallyValid(path));
        return new Report(path.toString(), format, List.copyOf(uses.values()), opcodes, findings, torchLoads, reads,
                error);
    }

    private static void addGlobals(PickleScanner.Result r, String part, boolean torchScript,
                                   Map<String, GlobalUse> uses, Map<String, String> where) {
        for (PickleScanner.GlobalRef g : r.globals()) {
            String full = g.fullName();
            boolean torch = !Allowlist.isBlockedModule(g.module()) && Allowlist.allowedByDefault(full);
            // the reader admits TorchScript's own globals in a TorchScript archive, as inert objects
            boolean reader = torch || (torchScript && Allowlist.isTorchScriptGlobal(g.module(), g.name()));
            GlobalUse prev = uses.get(full);
            uses.put(full, prev == null
                    ? new GlobalUse(full, 1, g.offset(), torch, reader, Dangers.of(g.module(), g.name()))
                    : new GlobalUse(full, prev.count() + 1, prev.firstOffset(), torch, reader, prev.danger()));
            where.putIfAbsent(full, part);
        }
    }

    private static void globalFindings(Map<String, GlobalUse> uses, Map<String, String> where, List<String> findings) {
        for (GlobalUse u : uses.values()) {
            if (u.danger() != null) {
                findings.add(String.format("%s at %s+0x%X: %s", u.name(), where.get(u.name()), u.firstOffset(),
                        u.danger()));
            } else if (!u.acceptedByDefault()) {
                findings.add(String.format("%s at %s+0x%X is not on PyTorch's weights_only allowlist",
                        u.name(), where.get(u.name()), u.firstOffset()));
            }
        }
    }

    /**
     * Whether the file passes every check the reader makes but its safety limits (nesting, memo,
     * stack), which torch does not have: what torch itself would still load.
     */
    private static boolean structurallyValid(Path path) {
        ReadOptions relaxed = ReadOptions.builder().maxMemo(Integer.MAX_VALUE).maxStack(Integer.MAX_VALUE)
                .maxNesting(Integer.MAX_VALUE).build();
        try (MappedFile file = MappedFile.open(path)) {
            if (LegacyStream.matches(file)) {
                new LegacyStream(file).unpickle(relaxed, true).refuseUnreadableTensors();
                return true;
            }
            try (ZipContainer zip = ZipContainer.open(file, true)) {
                // Trailing bytes allowed, as torch allows them; no value tree is built.
                new TorchZip(file, zip).unpickle(relaxed, true).refuseUnreadableTensors();
                return true;
            }
        } catch (CheckpointException e) {
            // Our safety limits (nesting the thread's stack cannot hold) are not torch's.
            return e.kind() == CheckpointException.Kind.LIMIT_EXCEEDED;
        } catch (IOException | RuntimeException e) {
            return false;
        } catch (StackOverflowError | OutOfMemoryError e) {
            // Likewise the thread's stack and this heap: with the limits lifted, a 12 KB stack bomb
            // (the malicious corpus has one) asks for more memory than a small heap has, and torch,
            // which loads it, has no such bound. What this call allocated is garbage once it unwinds.
            return true;
        }
    }

    private static Report unreadable(Path path, String format, IOException e) {
        return new Report(path.toString(), format, List.of(), Map.of(), List.of("does not read: " + e.getMessage()),
                false, false, e.getMessage());
    }
}
