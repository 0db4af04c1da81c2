package io.torchbridge.reader.scan;

import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.ReadOptions;
import io.torchbridge.reader.internal.data.MappedFile;
import io.torchbridge.reader.internal.format.FileKind;
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
     * A file's outcome, as the scanners users know report it (the exit status of {@code torchbridge scan}).
     */
    public enum Verdict {
        /** Scanned, nothing found: the pickle names only what torch's weights_only loader admits and the file
         *  reads; or a kind that holds no pickle at all (safetensors, GGUF, ONNX, JSON). Exit status 0. */
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

        /** 0, 1 or 2. */
        public int exitCode() {
            return exitCode;
        }

        /** The worse of the two: dangerous over unreadable over clean (a directory's verdict). */
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
        /** {@link Verdict#CLEAN}. */
        public boolean clean() {
            return verdict == Verdict.CLEAN;
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
        boolean torchScript = false;
        boolean dangerous = false;
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
                        if (other != null) {
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
                        torchScript = inside.kind() == FileKind.TORCHSCRIPT;
                        if (torchScript) {
                            findings.add("a TorchScript archive: torch.load(weights_only=True) refuses it");
                        } else if (inside.kind() != FileKind.ZIP) {
                            return unreadable(path, format, new IOException(inside.message()));
                        }
                        Optional<ZipContainer.Entry> pkl = zip.entry("data.pkl");
                        if (pkl.isPresent()) {
                            pickle = zip.read(file, pkl.get(), ReadOptions.defaults().maxPickleBytes());
                        }
                    }
                }
                case PICKLE, LEGACY -> {
                    pickle = file.read(0, (int) Math.min(file.size(), ReadOptions.defaults().maxPickleBytes()));
                    if (kind.kind() == FileKind.PICKLE) {
                        findings.add("a bare pickle, not a torch.save checkpoint: torch.load cannot read it safely");
                    }
                }
                case SAFETENSORS, GGUF, ONNX, SHARD_INDEX, JSON -> {
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
        if (pickle == null) {
            return unreadable(path, format, new IOException("no pickle to scan (no data.pkl record)"));
        }

        PickleScanner.Result r = PickleScanner.scan(pickle);
        Map<String, GlobalUse> uses = new LinkedHashMap<>();
        for (PickleScanner.GlobalRef g : r.globals()) {
            String full = g.fullName();
            boolean torch = !Allowlist.isBlockedModule(g.module()) && Allowlist.allowedByDefault(full);
            GlobalUse prev = uses.get(full);
            uses.put(full, prev == null
                    ? new GlobalUse(full, 1, g.offset(), torch, torch, Dangers.of(g.module(), g.name()))
                    : new GlobalUse(full, prev.count() + 1, prev.firstOffset(), torch, torch, prev.danger()));
        }
        for (GlobalUse u : uses.values()) {
            dangerous |= u.danger() != null || !u.acceptedByDefault();
            if (u.danger() != null) {
                findings.add(String.format("%s at data.pkl+0x%X: %s", u.name(), u.firstOffset(), u.danger()));
            } else if (!u.acceptedByDefault()) {
                findings.add(String.format("%s at data.pkl+0x%X is not on PyTorch's weights_only allowlist",
                        u.name(), u.firstOffset()));
            }
        }
        if (r.trailingAt() >= 0) {
            dangerous = true;
            findings.add(String.format("data.pkl+0x%X: bytes after the pickle's STOP (a second pickle hidden "
                    + "behind the first: torch ignores it, TorchBridge refuses the file)", r.trailingAt()));
        }
        if (r.error() != null) {
            findings.add(String.format("malformed pickle at data.pkl+0x%X: %s", r.errorOffset(), r.error()));
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
        Verdict verdict = dangerous ? Verdict.DANGEROUS
                : findings.isEmpty() && reads ? Verdict.CLEAN : Verdict.UNREADABLE;
        return new Report(path.toString(), format, List.copyOf(uses.values()), r.opcodes(), findings, torchLoads,
                reads, error, verdict);
    }

    /**
     * Whether the file passes every check the reader makes but its safety limits (nesting, memo,
     * stack), which torch does not have: what torch itself would still load.
     */
    private static boolean structurallyValid(Path path) {
        ReadOptions relaxed = ReadOptions.builder().maxMemo(Integer.MAX_VALUE).maxStack(Integer.MAX_VALUE)
                .maxNesting(Integer.MAX_VALUE).build();
        try (MappedFile file = MappedFile.open(path); ZipContainer zip = ZipContainer.open(file, true)) {
            // Trailing bytes allowed, as torch allows them; no value tree is built.
            new TorchZip(file, zip).unpickle(relaxed, true).refuseUnreadableTensors();
            return true;
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
                false, false, e.getMessage(), Verdict.UNREADABLE);
    }
}
