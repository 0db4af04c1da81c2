package io.torchbridge.reader.scan;

import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.ReadOptions;
import io.torchbridge.reader.internal.data.MappedFile;
import io.torchbridge.reader.internal.format.FileKind;
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
     * A file's outcome, as the scanners users know report it (the exit status of {@code torchbridge scan}).
     */
    public enum Verdict {
        /** Scanned, nothing found: the pickle names only what torch's weights_only loader admits and the file
         *  reads; or a kind that holds no pickle at all (a safetensors file whose header reads, GGUF, ONNX, JSON).
         *  Exit status 0. */
        CLEAN(0),
        /** Something dangerous found: a global that runs code or is outside the allowlist, a pickle hidden
         *  behind the first, a record name used twice. Exit status 1; it wins over {@link #UNREADABLE}. */
        DANGEROUS(1),
        /** Nothing dangerous found, but the file could not be scanned or read whole (a kind whose pickles
         *  are not scanned yet, a damaged file, a bare pickle, TorchScript code). Exit status 2. */
        UNREADABLE(2);

        private final int exitCode;

        Verdict(int exitCode) {
            this.exitCode = exitCode;
        }

        /** {@return the exit status: 0, 1 or 2} */
        public int exitCode() {
            return exitCode;
        }

        /**
         * {@return the worse of the two: dangerous over unreadable over clean (a directory's verdict)}
         *
         * @param other the other verdict
         */
        public Verdict worst(Verdict other) {
            return this == DANGEROUS || other == DANGEROUS ? DANGEROUS
                    : this == UNREADABLE || other == UNREADABLE ? UNREADABLE : CLEAN;
        }
    }

    /**
     * A file's scan.
     *
     * @param format         the file's kind, as the reader diagnoses it ({@code zip}, {@code safetensors}, ...)
     * @param torchWouldLoad whether torch 2.14's {@code torch.load(path, weights_only=True)} would load it
     * @param readsByDefault whether {@link Checkpoint#open(Path)} reads it
     * @param findings       what makes the file not clean, one line each
     * @param error          why the file could not be scanned or read, or null
     * @param verdict        clean, dangerous or unreadable (see {@link Verdict})
     */
    public record Report(String file, String format, List<GlobalUse> globals, Map<String, Integer> opcodes,
                         List<String> findings, boolean torchWouldLoad, boolean readsByDefault, String error,
                         Verdict verdict) {
        /** {@return whether the verdict is {@link Verdict#CLEAN}} */
        public boolean clean() {
            return verdict == Verdict.CLEAN;
        }
    }

    private Scan() {
    }

    /**
     * Scans {@code path}. Never throws on a bad file: what could not be read is in the report's
     * findings and {@link Report#error()}.
     *
     * @param path the file to scan
     * @return what was found, with the verdict
     */
    public static Report scan(Path path) {
        List<String> findings = new ArrayList<>();
        String format = "unknown";
        byte[] pickle = null;
        boolean torchScript = false;
        boolean dangerous = false;
        // The legacy stream's five pickles (or a tar's object pickle), each walked on its own:
        // each ends with its STOP, and what follows it is the next pickle, not hidden bytes.
        List<LegacyStream.Part> parts = null;
        Map<String, byte[]> otherPickles = new LinkedHashMap<>();
        String pickleName = "data.pkl";
        FileKind.Diagnosis directory = FileKind.ofDirectory(path);
        if (directory != null) {
            return unreadable(path, directory.kind().label(), new IOException(directory.message()));
        }
        try (MappedFile file = MappedFile.open(path)) {
            FileKind.Diagnosis kind = FileKind.sniff(file);
            format = kind.kind().label();
            switch (kind.kind()) {
                case ZIP -> {
                    ZipContainer zip;
                    try {
                        zip = ZipContainer.open(file, true);
                    } catch (CheckpointException e) {
                        FileKind.Diagnosis other = FileKind.ofUnreadableZip(file, ZipContainer.leadingBytes(file));
                        if (other != null && other.kind() == FileKind.NPZ) {
                            // numpy.savez: .npy records, no pickle that runs (object arrays are refused)
                            return readsWithoutPickle(path, other.kind().label(), other.message());
                        } else if (other != null) {
                            return unreadable(path, other.kind().label(), new IOException(other.message()));
                        }
                        throw e;
                    }
                    try (zip) {
                        for (String d : zip.duplicates()) {
                            findings.add("record " + d + " appears twice: torch reads the first, other tools may read "
                                    + "the second (a crafted archive)");
                            dangerous = true;
                        }
                        FileKind.Diagnosis inside = FileKind.ofZip(path, n -> zip.entry(n).isPresent());
                        format = inside.kind().label();
                        // torch 2.6+ refuses a TorchScript archive under weights_only=True (and loads it
                        // with torch.jit.load otherwise), so the verdict below is a refusal. It is no
                        // finding: a scripted model is a normal file, which the reader lists as its state_dict.
                        torchScript = inside.kind() == FileKind.TORCHSCRIPT;
                        if (torchScript) {
                            // the archive's other pickles: constants.pkl (torch.jit.load unpickles it) and
                            // traced_inputs.pkl (a traced module's example inputs, torch 2.x): their globals count too
                            for (String name : List.of("constants.pkl", "traced_inputs.pkl")) {
                                Optional<ZipContainer.Entry> e = zip.entry(name);
                                if (e.isPresent()) {
                                    otherPickles.put(name, zip.read(file, e.get(), ReadOptions.defaults().maxPickleBytes()));
                                }
                            }
                        } else if (inside.kind() != FileKind.ZIP) {
                            return unreadable(path, format, new IOException(inside.message()));
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
                }
                case LEGACY -> parts = new LegacyStream(file).pickles(ReadOptions.defaults().maxPickleBytes());
                case TAR -> {
                    if (!LegacyTar.matches(file)) {
                        return unreadable(path, format, new IOException(kind.message()));
                    }
                    // torch/serialization.py, _legacy_load.legacy_load refuses a tar under weights_only
                    // before reading anything: torchWouldLoad says so; its pickles are scanned all the same
                    parts = LegacyTar.open(file).pickles(ReadOptions.defaults().maxPickleBytes());
                }
                case PICKLE -> {
                    pickle = file.read(0, (int) Math.min(file.size(), ReadOptions.defaults().maxPickleBytes()));
                    findings.add("a bare pickle, not a torch.save checkpoint: torch.load cannot read it safely");
                }
                case SAFETENSORS, NPY -> {
                    // no pickle, so nothing runs when it loads; it reads if its header passes the
                    // reader's checks (a NumPy object array, which would unpickle, does not)
                    return readsWithoutPickle(path, format, kind.message());
                }
                case GGUF, ONNX, SHARD_INDEX, JSON -> {
                    // formats without a pickle: nothing in them runs when their own library loads them
                    return new Report(path.toString(), format, List.of(), Map.of(), List.of(), false, false,
                            kind.message(), Verdict.CLEAN);
                }
                default -> {
                    return unreadable(path, format, new IOException(kind.message()));
                }
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
        dangerous |= globalFindings(uses, where, findings);
        for (Map.Entry<String, byte[]> other : otherPickles.entrySet()) {
            for (PickleScanner.GlobalRef g : PickleScanner.scan(other.getValue()).globals()) {
                String danger = Dangers.of(g.module(), g.name());
                if (danger != null) {
                    dangerous = true;
                    findings.add(String.format("%s at %s+0x%X: %s", g.fullName(), other.getKey(), g.offset(), danger));
                }
            }
        }
        if (r.trailingAt() >= 0) {
            dangerous = true;
            findings.add(String.format("%s+0x%X: bytes after the pickle's STOP (a second pickle hidden "
                    + "behind the first: torch ignores it, TorchBridge refuses the file)", pickleName, r.trailingAt()));
        }
        if (r.error() != null) {
            findings.add(String.format("malformed pickle at %s+0x%X: %s", pickleName, r.errorOffset(), r.error()));
        }

        String error = readError(path, findings);
        boolean reads = error == null;
        // torch reads the first pickle only: its verdict depends on what comes before the first STOP
        byte[] pkl = pickle;
        PickleScanner.Result first = r.trailingAt() < 0 ? r
                : PickleScanner.scan(java.util.Arrays.copyOf(pkl, (int) r.trailingAt()));
        boolean torchLoads = "zip".equals(format) && first.error() == null && onlyTorchOpcodes(first)
                && first.globals().stream().allMatch(g -> !Allowlist.isBlockedModule(g.module())
                        && Allowlist.allowedByDefault(g.fullName()))
                && (reads || structurallyValid(path));
        Verdict verdict = verdict(dangerous, findings, reads);
        return new Report(path.toString(), format, List.copyOf(uses.values()), r.opcodes(), findings, torchLoads,
                reads, error, verdict);
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
            torchParses &= onlyTorchOpcodes(r);
        }
        boolean dangerous = globalFindings(uses, where, findings);
        String error = readError(path, findings);
        boolean reads = error == null;
        boolean torchLoads = torchParses && uses.values().stream().allMatch(GlobalUse::torchAccepts)
                && (reads || structurallyValid(path));
        Verdict verdict = verdict(dangerous, findings, reads);
        return new Report(path.toString(), format, List.copyOf(uses.values()), opcodes, findings, torchLoads, reads,
                error, verdict);
    }

    /**
     * Opens the file as {@link Checkpoint#open(Path)} does: null when it reads, else why not (a
     * finding too, unless the reason is a refused global, which the global findings name already).
     */
    private static String readError(Path path, List<String> findings) {
        try (Checkpoint c = Checkpoint.open(path)) {
            return null;
        } catch (IOException e) {
            if (!(e instanceof CheckpointException ce && ce.kind() == CheckpointException.Kind.DISALLOWED_GLOBAL)) {
                findings.add("does not read: " + e.getMessage());
            }
            return String.valueOf(e.getMessage());
        }
    }

    private static Verdict verdict(boolean dangerous, List<String> findings, boolean reads) {
        return dangerous ? Verdict.DANGEROUS : findings.isEmpty() && reads ? Verdict.CLEAN : Verdict.UNREADABLE;
    }

    /** Whether the pickle uses only opcodes torch's weights_only unpickler knows. */
    private static boolean onlyTorchOpcodes(PickleScanner.Result r) {
        return PickleScanner.TORCH_OPCODES.containsAll(r.opcodes().keySet());
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

    /** Adds a finding per dangerous or unlisted global; whether there was one (the file is then dangerous). */
    private static boolean globalFindings(Map<String, GlobalUse> uses, Map<String, String> where,
                                          List<String> findings) {
        boolean dangerous = false;
        for (GlobalUse u : uses.values()) {
            dangerous |= u.danger() != null || !u.acceptedByDefault();
            if (u.danger() != null) {
                findings.add(String.format("%s at %s+0x%X: %s", u.name(), where.get(u.name()), u.firstOffset(),
                        u.danger()));
            } else if (!u.acceptedByDefault()) {
                findings.add(String.format("%s at %s+0x%X is not on PyTorch's weights_only allowlist",
                        u.name(), where.get(u.name()), u.firstOffset()));
            }
        }
        return dangerous;
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

    /** A format without pickles: clean when the reader opens it, else unreadable with the reader's reason. */
    private static Report readsWithoutPickle(Path path, String format, String note) {
        try (Checkpoint c = Checkpoint.open(path)) {
            return new Report(path.toString(), format, List.of(), Map.of(), List.of(), false, true, note, Verdict.CLEAN);
        } catch (IOException e) {
            return unreadable(path, format, e);
        }
    }

    private static Report unreadable(Path path, String format, IOException e) {
        return new Report(path.toString(), format, List.of(), Map.of(), List.of("does not read: " + e.getMessage()),
                false, false, e.getMessage(), Verdict.UNREADABLE);
    }
}
