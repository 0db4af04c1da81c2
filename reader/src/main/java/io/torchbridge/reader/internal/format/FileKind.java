package io.torchbridge.reader.internal.format;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.reader.internal.data.MappedFile;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * What a file is, told from its content: the one place where the reader, the scanner and the CLI
 * learn a file's kind, and for each kind this version does not read, what the user can do next.
 *
 * <p>Detection runs in two steps, so that a checkpoint pays for nothing it does not need: {@link
 * #sniff} looks at the first bytes (a table of signatures, first match wins); for a zip, {@link
 * #ofZip} looks at the record names once the archive index is read anyway, and {@link
 * #ofUnreadableZip} explains a zip that the checkpoint reader refused (a {@code .npz}, a {@code
 * .distcp}).
 */
public enum FileKind {
    /** The zip archive {@code torch.save} writes since PyTorch 1.6. */
    ZIP("zip", "a PyTorch checkpoint in torch.save's zip format", null),
    /** The pre-1.6 stream of pickles ({@code _use_new_zipfile_serialization=False}). */
    LEGACY("legacy", "a PyTorch checkpoint in the legacy stream format (torch.save before PyTorch 1.6, "
            + "or with _use_new_zipfile_serialization=False)",
            "the legacy format is not read yet; in Python, torch.save(torch.load(path), new_path) rewrites it in "
                    + "the zip format"),
    /** The tar archive of the oldest {@code torch.save} (members sys_info, pickle, storages, tensors). */
    TAR("tar", "a tar archive (the oldest torch.save format wrote one)",
            "tar checkpoints are not read yet; in Python, torch.save(torch.load(path, weights_only=False), new_path) "
                    + "rewrites it in the zip format (only for a file you trust: that load runs its pickle)"),
    /** {@code torch.jit.save} output, either layout. */
    TORCHSCRIPT("torchscript", "a TorchScript archive (torch.jit.save)",
            "TorchScript is not read yet; in Python, torch.save(torch.jit.load(path).state_dict(), new_path)"),
    /** A safetensors file: an 8-byte little-endian header length, a JSON header, the data. */
    SAFETENSORS("safetensors", "a safetensors file", null),
    /** The JSON index of a sharded checkpoint ({@code weight_map}: tensor name to shard file). */
    SHARD_INDEX("shard-index", "the index of a sharded checkpoint (JSON whose weight_map names the shard file of "
            + "each tensor)", "Checkpoint.open reads it, or the folder holding it, as one checkpoint"),
    /** A torch.distributed.checkpoint directory, its {@code .metadata} or one of its {@code .distcp} files. */
    DCP("dcp", "part of a torch.distributed.checkpoint (DCP)",
            "a DCP checkpoint is read as a whole: open its directory, the folder that holds .metadata and the "
                    + ".distcp files"),
    /** {@code numpy.save}; read as {@code Format.NPY}. */
    NPY("npy", "a NumPy array file (numpy.save)", null),
    /** {@code numpy.savez}: a zip of {@code .npy} records; read as {@code Format.NPZ}. */
    NPZ("npz", "a NumPy archive (numpy.savez: a zip of .npy records)", null),
    /** An ONNX model: a protobuf {@code ModelProto}. */
    ONNX("onnx", "an ONNX model (a protobuf ModelProto)",
            "ONNX is not read; its weights are the graph's initializers (onnx.numpy_helper.to_array in Python)"),
    /** A GGUF file (llama.cpp). */
    GGUF("gguf", "a GGUF model file (llama.cpp)", "GGUF is not read; use llama.cpp's gguf tools"),
    /** An HDF5 file (Keras {@code .h5}, h5py). */
    HDF5("hdf5", "an HDF5 file (Keras .h5, h5py)", "HDF5 is not read; use h5py or a Java HDF5 reader such as jhdf"),
    /** A JSON text that is not a shard index ({@code config.json}, ...). */
    JSON("json", "a JSON text, not a checkpoint", "look for the checkpoint files beside it"),
    /** A pickle that is not {@code torch.save} output ({@code pickle.dump}). */
    PICKLE("pickle", "a bare Python pickle (pickle.dump), not torch.save output",
            "torch.load cannot read it safely; torchbridge scan shows what it would run"),
    /** A directory (not a DCP one). */
    DIRECTORY("directory", "a directory", "name a checkpoint file in it"),
    /** A file of 0 bytes. */
    EMPTY("empty", "an empty file (0 bytes)", "an interrupted download or save? Fetch or save it again"),
    /** Anything else. */
    UNKNOWN("unknown", "not a PyTorch checkpoint or any file kind TorchBridge recognizes", null);

    private final String label;
    private final String description;
    private final String nextStep;

    FileKind(String label, String description, String nextStep) {
        this.label = label;
        this.description = description;
        this.nextStep = nextStep;
    }

    /** The short name the CLI prints ({@code safetensors}, {@code legacy}). */
    public String label() {
        return label;
    }

    /** What the kind is, in words. */
    public String description() {
        return description;
    }

    /**
     * What one file is: its kind, what was seen ({@code pickle protocol 4}) or null, and the next
     * step where this file's differs from its kind's (or null).
     */
    public record Diagnosis(FileKind kind, String detail, String next) {
        public Diagnosis(FileKind kind, String detail) {
            this(kind, detail, null);
        }

        /** {@code this is a safetensors file; safetensors is not read yet (issue 11); in Python, ...}. */
        public String message() {
            StringBuilder sb = new StringBuilder("this is ").append(kind.description);
            if (detail != null) {
                sb.append(" (").append(detail).append(')');
            }
            String step = next != null ? next : kind.nextStep;
            if (step != null) {
                sb.append("; ").append(step);
            }
            return sb.toString();
        }

        /** The error for opening a file of this kind as a checkpoint, when the reader cannot. */
        public CheckpointException refusal() {
            // UNSUPPORTED is for kinds a reader could read; a bare pickle or unknown bytes do not follow
            // any checkpoint format (torch.load calls the first "corrupt": an invalid magic number)
            Kind k = switch (kind) {
                case EMPTY -> Kind.TRUNCATED;
                case UNKNOWN, PICKLE -> Kind.MALFORMED;
                default -> Kind.UNSUPPORTED;
            };
            return kind == UNKNOWN ? CheckpointException.at(k, null, 0, message()) : CheckpointException.of(k, message());
        }
    }

    /** How many leading bytes the signatures look at (tar's magic is at 257, HDF5's may be at 2048). */
    static final int HEAD = 4096;
    /** How far a JSON text is searched for {@code "weight_map"} (its metadata comes first, and is short). */
    static final int JSON_HEAD = 64 * 1024;

    /** The leading bytes of a file, and its size and path. */
    record Head(byte[] bytes, long size, Path path) {
        boolean startsWith(int at, byte[] magic) {
            return bytes.length >= at + magic.length
                    && Arrays.equals(bytes, at, at + magic.length, magic, 0, magic.length);
        }

        int u8(int at) {
            return at < bytes.length ? bytes[at] & 0xFF : -1;
        }
    }

    private record Signature(FileKind kind, Function<Head, String> match) {
    }

    /** Signatures that need no detail say so with this; null means no match. */
    private static final String MATCH = "";

    private static final byte[] ZIP_MAGIC = {'P', 'K', 3, 4};
    private static final byte[] NPY_MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final byte[] GGUF_MAGIC = {'G', 'G', 'U', 'F'};
    private static final byte[] HDF5_MAGIC = {(byte) 0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    private static final byte[] TAR_MAGIC = {'u', 's', 't', 'a', 'r'};
    /**
     * torch/serialization.py, MAGIC_NUMBER: 0x1950a86a20f9469cfc6c, the legacy stream's first
     * pickle. Protocol 2 and up write it as LONG1 with these 10 little-endian bytes.
     */
    private static final byte[] LEGACY_LONG1 = {(byte) 0x8a, 10, 0x6c, (byte) 0xfc, (byte) 0x9c, 0x46, (byte) 0xf9,
        0x20, 0x6a, (byte) 0xa8, 0x50, 0x19};
    /** Protocols 0 and 1 write it as the LONG opcode with its decimal text. */
    private static final byte[] LEGACY_LONG_TEXT = "L119547037146038801333356L\n.".getBytes(StandardCharsets.US_ASCII);

    /** First match wins; each entry says what the kind's first bytes are. */
    private static final List<Signature> SIGNATURES = List.of(
            new Signature(ZIP, h -> h.startsWith(0, ZIP_MAGIC) ? MATCH : null),
            new Signature(LEGACY, FileKind::legacy),
            new Signature(PICKLE, h -> h.u8(0) == 0x80 && h.u8(1) >= 2 && h.u8(1) <= 5
                    ? "pickle protocol " + h.u8(1) : null),
            new Signature(NPY, h -> h.startsWith(0, NPY_MAGIC) && h.bytes.length >= 8
                    ? "format version " + h.u8(6) + "." + h.u8(7) : null),
            new Signature(GGUF, h -> h.startsWith(0, GGUF_MAGIC) && h.bytes.length >= 8
                    ? "version " + (h.u8(4) | h.u8(5) << 8 | h.u8(6) << 16 | h.u8(7) << 24) : null),
            // the superblock may sit at 0, 512, 1024, 2048, ... (HDF5 spec, "Format Signature")
            new Signature(HDF5, h -> h.startsWith(0, HDF5_MAGIC) || h.startsWith(512, HDF5_MAGIC)
                    || h.startsWith(1024, HDF5_MAGIC) || h.startsWith(2048, HDF5_MAGIC) ? MATCH : null),
            new Signature(TAR, h -> h.startsWith(257, TAR_MAGIC) ? MATCH : null),
            new Signature(SAFETENSORS, FileKind::safetensors),
            new Signature(ONNX, FileKind::onnx),
            new Signature(JSON, h -> firstNonBlank(h.bytes) == '{' ? MATCH : null));

    /** Protocol 2..5 (after a FRAME from 4 on) or 0/1, then the magic number. */
    private static String legacy(Head h) {
        if (h.u8(0) == 0x80 && h.u8(1) >= 2 && h.u8(1) <= 5) {
            int at = h.u8(2) == 0x95 ? 2 + 9 : 2; // FRAME and its 8-byte length (protocol 4+)
            // a file cut off inside the magic number is still a legacy file (its reader says where it ends)
            int n = Math.min(LEGACY_LONG1.length, h.bytes.length - at);
            boolean magic = n >= 2 && Arrays.equals(h.bytes, at, at + n, LEGACY_LONG1, 0, n);
            return magic ? "pickle protocol " + h.u8(1) : null;
        }
        if (h.startsWith(0, LEGACY_LONG_TEXT)) {
            // the next pickle, the protocol version 1001: BININT2 in protocol 1, INT text in 0
            int next = h.u8(LEGACY_LONG_TEXT.length);
            return next == 'M' ? "pickle protocol 1" : next == 'I' ? "pickle protocol 0" : "pickle protocol 0 or 1";
        }
        return null;
    }

    /**
     * The safetensors layout: a u64 little-endian header length, then a JSON object
     * ({@code safetensors/src/tensor.rs}, {@code read_metadata}). A length past the end of the file
     * or over the crate's limit still names the kind (a truncated download, a hostile header), so
     * that the reader says what is wrong with it; below 2^40 only, so that 8 random bytes before a
     * '{' are not taken for one.
     */
    private static String safetensors(Head h) {
        if (h.bytes.length < 10 || h.u8(8) != '{') {
            return null;
        }
        long n = 0;
        for (int i = 7; i >= 0; i--) {
            n = n << 8 | h.u8(i);
        }
        return n >= 2 && n < 1L << 40 ? MATCH : null;
    }

    /**
     * An ONNX ModelProto as every exporter writes it: field 1 (ir_version, a small varint) first,
     * then another ModelProto field: producer_name (2), producer_version (3), domain (4),
     * model_version (5), doc_string (6), graph (7) or opset_import (8). A sniff, not a parse.
     */
    private static String onnx(Head h) {
        int next = h.u8(2);
        boolean field = next == 0x12 || next == 0x1a || next == 0x22 || next == 0x28 || next == 0x32
                || next == 0x3a || next == 0x42;
        return h.u8(0) == 0x08 && h.u8(1) >= 1 && h.u8(1) <= 30 && field ? "IR version " + h.u8(1) : null;
    }

    private static int firstNonBlank(byte[] b) {
        int i = b.length >= 3 && (b[0] & 0xFF) == 0xEF && (b[1] & 0xFF) == 0xBB && (b[2] & 0xFF) == 0xBF ? 3 : 0;
        for (; i < b.length; i++) {
            if (b[i] != ' ' && b[i] != '\n' && b[i] != '\r' && b[i] != '\t') {
                return b[i];
            }
        }
        return -1;
    }

    /** The kind of {@code path} when it is a directory (a DCP one or any), else null. */
    public static Diagnosis ofDirectory(Path path) {
        if (!Files.isDirectory(path)) {
            return null;
        }
        if (Files.isRegularFile(path.resolve(".metadata"))) {
            return new Diagnosis(DCP, "a DCP directory: .metadata and " + count(path, "*.distcp") + " .distcp files",
                    "it opens as one checkpoint (Checkpoint.open, torchbridge inspect, convert) with its metadata read "
                            + "inertly");
        }
        List<String> inside = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(path, "*.{pt,pth,bin,ckpt,safetensors,tar}")) {
            for (Path p : ds) {
                inside.add(p.getFileName().toString());
            }
        } catch (IOException e) {
            // only a hint: without it the diagnosis stands
        }
        inside.sort(null);
        return new Diagnosis(DIRECTORY, inside.isEmpty() ? null : "it holds " + String.join(", ",
                inside.subList(0, Math.min(5, inside.size()))) + (inside.size() > 5 ? ", ..." : ""));
    }

    private static int count(Path dir, String glob) {
        int n = 0;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, glob)) {
            for (Path ignored : ds) {
                n++;
            }
        } catch (IOException e) {
            return 0;
        }
        return n;
    }

    /** The kind of an opened file from its first bytes; a zip is {@link #ZIP} until {@link #ofZip} looks inside. */
    public static Diagnosis sniff(MappedFile file) throws IOException {
        long size = file.size();
        if (size == 0) {
            return new Diagnosis(EMPTY, null);
        }
        byte[] head = file.read(0, (int) Math.min(size, HEAD));
        Head h = new Head(head, size, file.path());
        for (Signature s : SIGNATURES) {
            String detail = s.match().apply(h);
            if (detail != null) {
                Diagnosis d = new Diagnosis(s.kind(), detail.isEmpty() ? null : detail);
                return switch (d.kind()) {
                    case JSON -> json(file, size);
                    case PICKLE -> isDcpMetadata(file.path()) ? new Diagnosis(DCP, "its .metadata file") : d;
                    default -> d;
                };
            }
        }
        StringBuilder hex = new StringBuilder();
        for (int i = 0; i < Math.min(8, head.length); i++) {
            hex.append(String.format(Locale.ROOT, "%s%02X", i == 0 ? "" : " ", head[i] & 0xFF));
        }
        return new Diagnosis(UNKNOWN, "it starts with " + hex + (size < 8 ? ", and has only " + size + " bytes" : "")
                + "; a checkpoint starts with PK\\3\\4 (zip) or a pickle's 80 02");
    }

    /** A JSON object: a shard index when it has a weight_map, which names what its shards are. */
    private static Diagnosis json(MappedFile file, long size) throws IOException {
        String text = new String(file.read(0, (int) Math.min(size, JSON_HEAD)), StandardCharsets.UTF_8);
        if (!text.contains("\"weight_map\"")) {
            return new Diagnosis(JSON, null);
        }
        if (text.contains(".safetensors\"")) {
            return new Diagnosis(SHARD_INDEX, "of safetensors shards");
        }
        boolean torch = text.contains(".bin\"") || text.contains(".pt\"") || text.contains(".pth\"");
        return new Diagnosis(SHARD_INDEX, torch ? "of torch.save shards" : null);
    }

    /** DCP's layout: a {@code .metadata} pickle beside {@code .distcp} files. */
    private static boolean isDcpMetadata(Path path) {
        Path name = path.getFileName();
        Path dir = path.toAbsolutePath().getParent();
        return name != null && name.toString().equals(".metadata") && dir != null && count(dir, "*.distcp") > 0;
    }

    /**
     * A zip that opened as an archive, told by its records ({@code hasRecord} answers by name,
     * below the archive folder; a lookup, so that 100k records cost nothing here): TorchScript by
     * its {@code constants.pkl} (every torch.jit.save since 1.4 writes it beside {@code code/}) or
     * its {@code model.json} (the 1.x layout); a DCP file by its name, since one whose only item
     * is a single tensor is byte for byte a {@code torch.save} of that tensor.
     */
    public static Diagnosis ofZip(Path path, Predicate<String> hasRecord) {
        if (hasRecord.test("model.json")) {
            return new Diagnosis(TORCHSCRIPT, "the PyTorch 1.x layout: model.json, tensors/");
        }
        if (hasRecord.test("constants.pkl")) {
            return new Diagnosis(TORCHSCRIPT, "constants.pkl, code/");
        }
        if (isDistcp(path)) {
            return new Diagnosis(DCP, "one of its .distcp data files", openDirectory(path));
        }
        return new Diagnosis(ZIP, null);
    }

    private static boolean isDistcp(Path path) {
        Path name = path.getFileName();
        return name != null && name.toString().endsWith(".distcp");
    }

    /**
     * A zip the checkpoint reader refused ({@code refusal}), when its content says what it is
     * instead: records of {@code .npy} files outside any folder ({@code numpy.savez}), or bytes
     * before the archive the end records describe, which is how a DCP {@code .distcp} file looks:
     * one {@code torch.save} archive per item, one after another
     * ({@code torch/distributed/checkpoint/filesystem.py}, {@code _write_item}). Null when neither.
     */
    public static Diagnosis ofUnreadableZip(MappedFile file, long leadingBytes) throws IOException {
        byte[] local = file.read(0, (int) Math.min(file.size(), 30 + 256));
        if (local.length >= 30) {
            int nameLength = (local[26] & 0xFF) | (local[27] & 0xFF) << 8;
            if (30 + nameLength <= local.length) {
                String first = new String(local, 30, nameLength, StandardCharsets.UTF_8);
                if (!first.contains("/") && first.endsWith(".npy")) {
                    return new Diagnosis(NPZ, null);
                }
            }
        }
        if (leadingBytes > 0) {
            return new Diagnosis(DCP, isDistcp(file.path()) || isDcpMetadataBeside(file.path())
                    ? "one of its .distcp data files: torch.save archives one after another"
                    : "zip archives one after another, as DCP writes its .distcp data files", openDirectory(file.path()));
        }
        return null;
    }

    /** The next step for a data file: open the directory it lies in (the checkpoint), named. */
    private static String openDirectory(Path path) {
        Path dir = path.toAbsolutePath().getParent();
        return "a DCP checkpoint is read as a whole: open its directory" + (dir == null ? "" : " " + dir)
                + " (the folder that holds .metadata) instead";
    }

    private static boolean isDcpMetadataBeside(Path path) {
        Path dir = path.toAbsolutePath().getParent();
        return dir != null && Files.isRegularFile(dir.resolve(".metadata"));
    }
}
