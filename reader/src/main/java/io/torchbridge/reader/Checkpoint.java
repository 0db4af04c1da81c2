package io.torchbridge.reader;

import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.reader.internal.data.MappedFile;
import io.torchbridge.reader.internal.format.CheckpointFormat;
import io.torchbridge.reader.internal.format.Dcp;
import io.torchbridge.reader.internal.format.LegacyStream;
import io.torchbridge.reader.internal.format.LegacyTar;
import io.torchbridge.reader.internal.format.Npy;
import io.torchbridge.reader.internal.format.Npz;
import io.torchbridge.reader.internal.format.Safetensors;
import io.torchbridge.reader.internal.format.TorchScript;
import io.torchbridge.reader.internal.format.FileKind;
import io.torchbridge.reader.internal.format.ShardIndex;
import io.torchbridge.reader.internal.format.Shards;
import io.torchbridge.reader.internal.format.TorchZip;
import io.torchbridge.reader.internal.format.Unpickled;
import io.torchbridge.reader.internal.zip.ZipContainer;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Set;

/**
 * An open PyTorch checkpoint ({@code torch.save} output: a {@code state_dict()}, a training
 * checkpoint, any object tree of tensors and plain values).
 *
 * <pre>{@code
 * try (Checkpoint ckpt = Checkpoint.open(Path.of("model.pth"))) {
 *     Tensor w = ckpt.tensor("fc.weight");
 *     float[] values = w.toFloatArray();
 * }
 * }</pre>
 *
 * <p>Opening reads the archive index and the pickle; tensor data stays in the file, mapped on
 * first use. Nothing in the file is executed: by default only what PyTorch's
 * {@code torch.load(weights_only=True)} accepts is accepted ({@link ReadOptions}). Safe to read
 * from many threads at once.
 *
 * <p>Owns the open file and its mappings: the file is mapped in windows of 1.5 GiB that start
 * every 512 MiB and are shared by all tensors, so a checkpoint needs at most one mapping per
 * 512 MiB of file whatever its tensor count. {@link #close()} releases them: it waits for copies
 * in progress ({@link Tensor#toFloatArray()}, {@link Tensor#stream}, ...) to finish, then unmaps,
 * except the windows that zero-copy views handed out ({@link Tensor#data()},
 * {@link Tensor#dataChunks()}, {@link Tensor#storageChunks()}) point into: those views stay
 * readable, and the garbage collector unmaps their windows once they are gone. Closing
 * therefore never makes a buffer you hold crash the JVM.
 */
public final class Checkpoint implements Closeable {
    /** What the messages call the checkpoint: its file, or the index or folder of a checkpoint in several files. */
    private final Path path;
    /**
     * What this checkpoint holds open and {@link #close()} closes, in reverse order: the mapped
     * file (or every file of a checkpoint in several), a zip index over it.
     */
    private final List<AutoCloseable> owned;
    /** The zip's top folder, "" where there is none. */
    private final String archiveName;
    private final List<String> records;
    private final Format format;
    private final Object root;
    private final Map<String, Tensor> tensors;
    /** Every entry in order where a name came twice, else null ({@link #tensors} has them all). */
    private final List<TensorEntry> entries;
    private final Set<String> ambiguous;
    private final List<UnreadableTensor> unreadable;
    private final ByteOrder byteOrder;
    private final int version;
    private final PyDict stateDict;
    private final Map<String, String> metadata;

    private Checkpoint(Path path, List<AutoCloseable> owned, String archiveName, List<String> records, Format format, Object root,
                       ValueTree tree, ByteOrder byteOrder, int version, PyDict stateDict, Map<String, String> metadata) {
        this.path = path;
        this.owned = List.copyOf(owned);
        this.archiveName = archiveName;
        this.records = Collections.unmodifiableList(records); // zip.names() of 200k records is not copied again
        this.format = format;
        this.root = root;
        this.tensors = Collections.unmodifiableMap(tree.tensors);
        this.entries = tree.entries == null ? null : List.copyOf(tree.entries);
        this.ambiguous = Set.copyOf(tree.ambiguous);
        this.unreadable = List.copyOf(tree.unreadable);
        this.byteOrder = byteOrder;
        this.version = version;
        this.stateDict = stateDict;
        this.metadata = metadata;
    }

    /**
     * Opens {@code path} with the default {@link ReadOptions}.
     *
     * @param path a checkpoint file, or a folder or index of a sharded or DCP checkpoint
     * @return the open checkpoint; close it to release its mappings
     * @throws IOException the file cannot be read, or ({@link CheckpointException}) is not a
     *                     checkpoint this reader can read safely
     */
    public static Checkpoint open(Path path) throws IOException {
        return open(path, ReadOptions.defaults());
    }

    /**
     * Opens {@code path}.
     *
     * @param path    a checkpoint file, or a folder or index of a sharded or DCP checkpoint
     * @param options admitted globals and safety limits
     * @return the open checkpoint; close it to release its mappings
     * @throws CheckpointException the file is not a checkpoint this reader can read safely; its
     *                             kind and message say why and where
     */
    public static Checkpoint open(Path path, ReadOptions options) throws IOException {
        if (java.nio.file.Files.isDirectory(path)) {
            Path index = ShardIndex.find(path);
            if (index != null) {
                return openShards(path, index, options);
            }
        }
        FileKind.Diagnosis directory = FileKind.ofDirectory(path);
        if (directory != null) {
            if (directory.kind() == FileKind.DCP) {
                return openDcp(path, options);
            }
            throw directory.refusal();
        }
        MappedFile file;
        try {
            file = MappedFile.open(path);
        } catch (IOException e) {
            throw CheckpointException.of(Kind.IO, "cannot open " + path + ": " + e).withCause(e);
        }
        ZipContainer zip = null;
        try {
            FileKind.Diagnosis kind = FileKind.sniff(file);
            boolean npz = false;
            if (kind.kind() == FileKind.ZIP) {
                ZipContainer index = openZip(file);
                zip = index;
                npz = index.archiveName().isEmpty(); // only a .npz opens without an archive folder (openZip)
                kind = FileKind.ofZip(path, n -> index.entry(n).isPresent());
            }
            if (npz) {
                return read(file, zip, new Npz(file, zip), zip.names(), options);
            }
            // One case per format this version reads; every other kind is named with its next step.
            switch (kind.kind()) {
                case ZIP:
                    return read(file, zip, new TorchZip(file, zip), zip.names(), options);
                case TORCHSCRIPT:
                    return read(file, zip, new TorchScript(file, zip), zip.names(), options);
                case NPY:
                    return read(file, null, new Npy(file), List.of(), options);
                case LEGACY:
                    return read(file, null, new LegacyStream(file), LegacyStream.PARTS, options);
                case SAFETENSORS:
                    return read(file, null, new Safetensors(file), List.of(), options);
                case TAR:
                    if (!LegacyTar.matches(file)) {
                        throw kind.refusal(); // a tar, but not torch's (no sys_info, pickle, storages, tensors)
                    }
                    LegacyTar tar = LegacyTar.open(file);
                    return read(file, null, tar, tar.members(), options);
                case SHARD_INDEX:
                    file.close(); // the index is read as text; its shards are what stays open
                    return openShards(path, path, options);
                case DCP:
                    if (!Dcp.isMetadataFile(path)) {
                        throw kind.refusal(); // a .distcp data file: the message names its directory
                    }
                    closeQuietly(file);
                    return openDcp(Dcp.directoryOf(path), options);
                default:
                    throw kind.refusal();
            }
        } catch (IOException | RuntimeException | Error e) {
            closeQuietly(zip);
            closeQuietly(file);
            throw e;
        }
    }

    /**
     * A sharded checkpoint ({@link Format#SHARDED}): the index, then every shard it names; the
     * checkpoint owns every shard file, and a failed open closes those it opened.
     */
    private static Checkpoint openShards(Path path, Path index, ReadOptions options) throws IOException {
        List<AutoCloseable> owned = new ArrayList<>();
        try {
            Shards shards = Shards.open(ShardIndex.read(index, options), owned);
            return read(path, owned, "", shards, shards::names, options);
        } catch (IOException | RuntimeException | Error e) {
            for (int i = owned.size() - 1; i >= 0; i--) {
                closeQuietly(owned.get(i));
            }
            throw e;
        }
    }

    /**
     * A DCP directory (given as the directory or its .metadata): one checkpoint over every data
     * file its metadata names, all owned by it (through the {@link Dcp} that opened them).
     */
    private static Checkpoint openDcp(Path dir, ReadOptions options) throws IOException {
        Dcp dcp = new Dcp(dir);
        try {
            return read(dir, List.of(dcp), "", dcp, dcp::records, options);
        } catch (IOException | RuntimeException | Error e) {
            closeQuietly(dcp);
            throw e;
        }
    }

    /**
     * The zip's index; a {@code .npz} gets its flat index (records in no folder); any other zip the
     * index refuses is named instead where its content says what it is (.distcp).
     */
    private static ZipContainer openZip(MappedFile file) throws IOException {
        try {
            return ZipContainer.open(file);
        } catch (CheckpointException e) {
            FileKind.Diagnosis other = FileKind.ofUnreadableZip(file, ZipContainer.leadingBytes(file));
            if (other != null && other.kind() == FileKind.NPZ) {
                return ZipContainer.openFlat(file); // numpy.savez: .npy records at the top, no folder
            }
            throw other == null ? e : other.refusal().withCause(e);
        }
    }

    private static Checkpoint read(MappedFile file, ZipContainer zip, CheckpointFormat format, List<String> records,
                                   ReadOptions options) throws IOException {
        List<AutoCloseable> owned = zip == null ? List.of(file) : List.of(file, zip);
        return read(file.path(), owned, zip == null ? "" : zip.archiveName(), format, () -> records, options);
    }

    /**
     * Reads a checkpoint from {@code format}; the checkpoint owns {@code owned} from then on (its
     * {@link #close()} closes them). If this throws, the caller closes them. A checkpoint in
     * several files passes every file it opened and its logical path (index or folder).
     */
    private static Checkpoint read(Path path, List<AutoCloseable> owned, String archiveName, CheckpointFormat format,
                                   java.util.function.Supplier<List<String>> records, ReadOptions options)
            throws IOException {
        Unpickled u = format.unpickle(options, false);
        ValueTree tree = new ValueTree(options, "data.pkl");
        Object root = tree.build(u::takeRoot, u.names());
        u.refuseUnreadableTensors(); // one the tree never reached: PyTorch runs every rebuild
        PyDict stateDict = null;
        if (u.names() != null) {
            // torch/nn/modules/module.py, state_dict: an OrderedDict whose _metadata holds
            // {'version': module._version} per module path; a script module's _version is nn.Module's, 1
            Map<String, Object> metadata = new java.util.LinkedHashMap<>();
            for (String m : u.modules()) {
                metadata.put(m, new PyDict(PyDict.DICT, Map.of("version", 1L), Map.of()));
            }
            stateDict = new PyDict(PyDict.ORDERED_DICT, tree.tensors,
                    Map.of("_metadata", new PyDict(PyDict.ORDERED_DICT, metadata, Map.of())));
        }
        return new Checkpoint(path, owned, archiveName, records.get(), u.format(), root, tree, u.byteOrder(), u.version(), stateDict,
                u.metadata());
    }

    /**
     * {@return the container's own string metadata: a safetensors header's {@code __metadata__} (what
     * {@code safe_open(path, "pt").metadata()} returns, such as {@code {"format": "pt"}}), in the
     * header's order; for a sharded checkpoint, its index's {@code metadata} ({@code total_size}
     * in decimal, and what else the writer put there, such as the names {@code huggingface_hub}
     * dropped as shared)} Empty for formats that have none (torch.save's zip, the legacy formats,
     * TorchScript). Unmodifiable.
     */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** {@return the container format} */
    public Format format() {
        return format;
    }

    /**
     * {@return the top folder of the archive (torch.save names it after the file); "" for the legacy
     * stream and tar formats, whose files have none}
     */
    public String archiveName() {
        return archiveName;
    }

    /**
     * {@return the archive's record names, in the archive's order; for a sharded checkpoint, its shard
     * files in the order read (sorted)} For the legacy stream, its parts
     * ({@code magic_number}, {@code protocol_version}, {@code sys_info}, {@code pickle},
     * {@code storage_keys}, {@code storages}); for a legacy tar, its members.
     */
    public List<String> records() {
        return records;
    }

    /**
     * {@return the value of the {@code version} record (zip); the legacy stream's protocol version, 1001;
     * 0 for a legacy tar, which declares none}
     */
    public int formatVersion() {
        return version;
    }

    /** {@return the byte order of the stored tensor data} */
    public ByteOrder byteOrder() {
        return byteOrder;
    }

    /**
     * {@return the saved object: {@link PyDict}, {@link List}, {@link PyTuple}, {@link String}, {@link Long}
     * or {@link java.math.BigInteger}, {@link Double}, {@link Boolean}, {@code null} (None),
     * {@code byte[]}, {@link PyComplex}, {@link java.util.Set} (unmodifiable; a set and a frozenset
     * alike), {@link PyGlobal}, {@link PyObject}, and {@link Tensor}}
     */
    public Object root() {
        return root;
    }

    /**
     * {@return every tensor by name, in the order the saved object reaches them (a shared one under each
     * name)} A name that two paths produce ({@code {'x.y': {'z': t}, 'x': {'y.z': t2}}} gives
     * {@code x.y.z} twice) maps to the first tensor only: {@link #entries()} lists both,
     * {@link #paths(String)} says which keys lead to each, {@link #tensorAt} reads either. For a
     * TorchScript archive ({@link Format#TORCHSCRIPT}): its {@code state_dict()}, the parameters
     * and buffers of each module in torch's order; {@link #root()} is then the module object.
     */
    public Map<String, Tensor> tensors() {
        return tensors;
    }

    /**
     * For a TorchScript archive, its {@code torch.jit.load(f).state_dict()}: an OrderedDict of
     * {@link #tensors()} with torch's {@code _metadata} (a {@code {'version': 1}} per module path),
     * what {@code torch.save(torch.jit.load(f).state_dict(), path)} would save. Empty for a
     * checkpoint, whose {@link #root()} is already what was saved.
     *
     * @return the archive's state dict, or empty
     */
    public java.util.Optional<PyDict> stateDict() {
        return java.util.Optional.ofNullable(stateDict);
    }

    /**
     * {@return every (name, tensor) in the order the saved object reaches them, a name that two paths
     * produce listed once per path} The same as {@link #tensors()} where no name comes twice.
     */
    public List<TensorEntry> entries() {
        if (entries != null) {
            return entries;
        }
        List<TensorEntry> out = new ArrayList<>(tensors.size());
        tensors.forEach((n, t) -> out.add(new TensorEntry(n, t)));
        return Collections.unmodifiableList(out);
    }

    /** {@return the tensor names, in order: every entry's ({@link #entries()}), so a name two paths produce is listed twice} */
    public List<String> names() {
        if (entries == null) {
            return new ArrayList<>(tensors.keySet());
        }
        List<String> out = new ArrayList<>(entries.size());
        for (TensorEntry e : entries) {
            out.add(e.name());
        }
        return out;
    }

    /** {@return names that two or more paths give to different tensors: {@link #tensor(String)} refuses them} */
    public Set<String> ambiguousNames() {
        return ambiguous;
    }

    /**
     * Tensors in the file that this version cannot represent (a rebuild it does not read), each
     * under its name with the reason; never left out silently. Empty for most files.
     *
     * @return the unreadable tensors, in order
     */
    public List<UnreadableTensor> unreadable() {
        return unreadable;
    }

    /**
     * {@return the tensor called {@code name} ({@code fc.weight}, {@code optimizer.state.0.exp_avg})}
     *
     * @param name the flattened name, keys joined with '.'
     * @throws NoSuchElementException   no tensor has that name, or it is {@linkplain #unreadable() unreadable}
     * @throws IllegalArgumentException two paths give that name to different tensors: the message
     *                                  shows both key paths; ask with {@link #tensorAt} instead
     */
    public Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t != null && ambiguous.contains(name)) {
            List<String> shown = new ArrayList<>();
            List<String> calls = new ArrayList<>();
            for (List<String> keys : paths(name)) {
                shown.add(keyPath(keys));
                calls.add("tensorAt(" + String.join(", ", keys.stream().map(Checkpoint::quote).toList()) + ")");
            }
            throw new IllegalArgumentException("tensor name '" + name + "' is ambiguous in " + path + ": "
                    + shown.size() + " paths produce it, " + String.join(" and ", shown)
                    + "; ask for one by its keys: " + String.join(" or ", calls));
        }
        if (t == null) {
            for (UnreadableTensor u : unreadable) {
                if (u.name().equals(name)) {
                    throw new NoSuchElementException("tensor '" + name + "' in " + path
                            + " cannot be read: " + u.reason());
                }
            }
            throw new NoSuchElementException("no tensor '" + name + "' in " + path + hint(name));
        }
        return t;
    }

    /**
     * {@return the tensor reached by these keys, one per level: dict keys as {@link #paths} shows them,
     * list and tuple indices in decimal ({@code tensorAt("x.y", "z")} for {@code root['x.y']['z']})}
     *
     * @param keys one key or index per level, from the root
     * @throws NoSuchElementException the keys lead nowhere, or not to a tensor
     */
    public Tensor tensorAt(String... keys) {
        Object v = valueAt(keys);
        if (!(v instanceof Tensor t)) {
            throw new NoSuchElementException(keyPath(List.of(keys)) + " in " + path + " is not a tensor but "
                    + (v == null ? "None" : v.getClass().getSimpleName()));
        }
        return t;
    }

    /**
     * {@return the value reached by these keys, one per level (see {@link #tensorAt}); no keys is the root}
     *
     * @param keys one key or index per level, from the root
     * @throws NoSuchElementException the keys lead nowhere
     */
    public Object valueAt(String... keys) {
        Object v = ValueTree.at(root, List.of(keys));
        if (v == ValueTree.ABSENT) {
            throw new NoSuchElementException("no value at " + keyPath(List.of(keys)) + " in " + path);
        }
        return v;
    }

    /**
     * {@return the key sequences that lead to a tensor named {@code name} (keys joined with '.'), in the
     * order the names are given: one for most names, two or more where paths collide}
     *
     * @param name the flattened name; a name no tensor has gives an empty list
     */
    public List<List<String>> paths(String name) {
        List<List<String>> out = new ArrayList<>();
        for (List<String> keys : ValueTree.paths(root, name)) {
            if (ValueTree.at(root, keys) instanceof Tensor) {
                out.add(keys);
            }
        }
        return out;
    }

    /**
     * {@return {@code ['x.y']['z']}: keys as Python would index them, as the messages show a path}
     *
     * @param keys one key per level
     */
    public static String keyPath(List<String> keys) {
        StringBuilder sb = new StringBuilder();
        for (String k : keys) {
            sb.append("['").append(k.replace("\\", "\\\\").replace("'", "\\'")).append("']");
        }
        return sb.toString();
    }

    private static String quote(String k) {
        return '"' + k.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
    }

    /**
     * {@return any value by its path ({@code epoch}, {@code optimizer.param_groups.0.lr}); "" is the root}
     *
     * @param path keys joined with '.'
     * @throws NoSuchElementException nothing has that path
     */
    public Object value(String path) {
        Object v = ValueTree.lookup(root, path);
        if (v == ValueTree.ABSENT) {
            throw new NoSuchElementException("no value '" + path + "' in " + path + hint(path));
        }
        return v;
    }

    /**
     * {@return every non-tensor value by its path, in order: the leaves of the saved object that are not
     * tensors ({@code epoch}, {@code optimizer.param_groups.0.lr}, {@code config.layers.1})} Dicts,
     * lists, tuples and an object's attributes are walked, so each entry is a plain value:
     * {@link String}, {@link Long}/{@link java.math.BigInteger}, {@link Double}, {@link Boolean},
     * {@code null}, {@code byte[]}, {@link PyComplex}, a {@link Set}, {@link PyGlobal}, a
     * {@link PyObject} without attributes, or an empty dict, list or tuple. Keys are those
     * {@link #value(String)} takes; a path that two walks give keeps its first value, as there.
     */
    public Map<String, Object> values() {
        return Collections.unmodifiableMap(ValueTree.values(root));
    }

    /**
     * {@return whether {@link #value(String)} has {@code path}}
     *
     * @param path keys joined with '.'
     */
    public boolean has(String path) {
        return ValueTree.lookup(root, path) != ValueTree.ABSENT;
    }

    private String hint(String name) {
        List<String> close = new ArrayList<>();
        String tail = name.contains(".") ? name.substring(name.lastIndexOf('.') + 1) : name;
        for (String n : tensors.keySet()) {
            if (n.endsWith("." + tail) || n.endsWith(name) || name.endsWith(n)) {
                close.add(n);
            }
            if (close.size() == 5) {
                break;
            }
        }
        return close.isEmpty() ? "" : "; similar names: " + close;
    }

    /**
     * Closes the file and unmaps it (see above): waits until reads in progress end; tensors of
     * this checkpoint then refuse data access with {@link IllegalStateException}. Called from
     * inside a read (a {@link Tensor#stream} sink), it does not wait; that read finishes the close.
     */
    @Override
    public void close() throws IOException {
        Throwable first = null;
        for (int i = owned.size() - 1; i >= 0; i--) {
            try {
                owned.get(i).close();
            } catch (Exception | Error e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first instanceof IOException io) {
            throw io;
        } else if (first instanceof RuntimeException re) {
            throw re;
        } else if (first instanceof Error er) {
            throw er;
        } else if (first != null) {
            throw new IOException(first);
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        if (c != null) {
            try {
                c.close();
            } catch (Exception ignored) {
                // the open already failed; its exception is what the caller needs
            }
        }
    }
}
