package io.torchbridge.writer;

import io.torchbridge.reader.Quantization;
import io.torchbridge.reader.StorageInfo;
import io.torchbridge.reader.Tensor;
import io.torchbridge.reader.TensorInfo;
import io.torchbridge.reader.TensorLayout;
import io.torchbridge.reader.internal.data.TensorRegions;
import io.torchbridge.writer.internal.Pickler;
import io.torchbridge.writer.internal.Sources;
import io.torchbridge.writer.internal.StorageSource;
import io.torchbridge.writer.internal.TensorView;
import io.torchbridge.writer.internal.TorchZipWriter;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Saves an object tree as {@code torch.save} does (the layout of torch 2.7+), in a file that
 * {@code torch.load(path, weights_only=True)} and {@code mmap=True} accept.
 *
 * <pre>{@code
 * Map<String, Object> sd = new LinkedHashMap<>();
 * sd.put("fc.weight", NewTensor.of(weights, 10, 20));
 * sd.put("fc.bias", NewTensor.of(bias, 10));
 * CheckpointWriter.save(new PyDict(PyDict.ORDERED_DICT, sd, Map.of()), Path.of("model.pt"));
 * }</pre>
 *
 * <p>The tree may hold what the reader returns ({@link io.torchbridge.reader.PyDict}, lists,
 * {@link io.torchbridge.reader.PyTuple}, strings, integers, floats, booleans, null, bytes,
 * {@link io.torchbridge.reader.PyComplex}, sets, allowlisted globals and calls), plain
 * {@link java.util.Map}s (written as dicts), {@link NewTensor}s and the reader's own
 * {@link Tensor}s, whose storages are streamed from their mapping without a copy.
 *
 * <p>Crash-safe: the file is written beside the target under a temporary name, flushed to disk,
 * and renamed over the target; a failure, exception or killed process leaves the previous file
 * intact and never a partial one at the target path.
 */
public final class CheckpointWriter {
    private CheckpointWriter() {
    }

    /** {@code torch.save(obj, target)}. */
    public static void save(Object obj, Path target) throws IOException {
        save(obj, target, WriteOptions.defaults());
    }

    public static void save(Object obj, Path target, WriteOptions options) throws IOException {
        Path abs = target.toAbsolutePath();
        if (Files.isSymbolicLink(abs)) {
            abs = abs.toRealPath(); // torch.save writes through a link; so do we, beside the real file
        }
        Path dir = abs.getParent();
        String archive = options.archiveName() != null ? options.archiveName() : archiveName(abs);

        // Pickle first (small, in memory): this validates the whole tree before any file exists.
        Map<StorageInfo, StorageSource> mapped = new IdentityHashMap<>();
        Pickler pickler = new Pickler(o -> view(o, mapped));
        byte[] pkl = pickler.dump(obj);

        Path tmp = createTemp(dir, abs);
        boolean done = false;
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                TorchZipWriter zip = new TorchZipWriter(ch, archive, 64, options.progress());
                // torch/serialization.py, _save: this order, storages in key order.
                zip.record("data.pkl", pkl);
                zip.record(".format_version", ascii("1"));
                zip.record(".storage_alignment", ascii("64"));
                zip.record("byteorder", ascii("little"));
                List<StorageSource> storages = pickler.storages();
                for (int i = 0; i < storages.size(); i++) {
                    StorageSource s = storages.get(i);
                    if (s.stored() != null) {
                        zip.copy("data/" + i, s.stored());
                    } else {
                        zip.record("data/" + i, s.nbytes(), s::writeTo);
                    }
                }
                zip.record("version", ascii("3\n"));
                zip.record(".data/serialization_id", ascii(zip.serializationId()));
                zip.finish();
                if (options.fsync()) {
                    ch.force(true);
                }
            }
            // The commit point: a rename within one folder is atomic. There is deliberately no
            // non-atomic fallback, which would delete the old file before the new one is in place.
            Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            done = true;
            if (options.fsync()) {
                syncDirectory(dir);
            }
        } catch (IOException | RuntimeException | Error e) {
            if (!done) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException cleanup) {
                    e.addSuppressed(cleanup);
                }
            }
            throw e;
        }
    }

    /** torch names the archive folder after the file, without its last extension. */
    static String archiveName(Path file) {
        String base = file.getFileName().toString();
        int dot = base.lastIndexOf('.');
        return dot < 0 ? base : base.substring(0, dot);
    }

    private static TensorView view(Object o, Map<StorageInfo, StorageSource> mapped) {
        if (o instanceof NewTensor t) {
            return t.toView();
        }
        if (o instanceof Tensor t) {
            TensorInfo i = t.info();
            if (i.layout() != TensorLayout.STRIDED) {
                // sparse or nested: its components are tensors of the tree in their own right
                return new TensorView(null, i.storage().location(), i.dtype(), i.shape().toArray(),
                        i.stride().toArray(), 0, i.requiresGrad(), false, false, false,
                        new TensorView.Composite(i.layout(), List.copyOf(t.components().values()), t.isCoalesced()));
            }
            Object quantized = t.quantization().map(q -> q instanceof Quantization.PerTensor p
                    ? new TensorView.Quantized(q.scheme(), p.scale(), p.zeroPoint(), null, null, 0)
                    : quantized((Quantization.PerChannel) q)).orElse(null);
            StorageSource s = mapped.computeIfAbsent(i.storage(), k -> Sources.read(t, k.nbytes(), i.dtype()));
            return new TensorView(s, i.storage().location(), i.dtype(), i.shape().toArray(), i.stride().toArray(), i.storageOffset(),
                    i.requiresGrad(), i.parameter(), i.conj(), i.neg(), quantized);
        }
        return null;
    }

    private static TensorView.Quantized quantized(Quantization.PerChannel p) {
        return new TensorView.Quantized(p.scheme(), 0, 0, p.scales(), p.zeroPoints(), p.axis());
    }

    /**
     * An empty temporary file beside {@code target}, named after it (shortened so that the name
     * stays within the 255 bytes file systems allow), with the target's permissions when it exists
     * so that replacing a private file does not expose it.
     */
    private static Path createTemp(Path dir, Path target) throws IOException {
        String name = target.getFileName().toString();
        while (name.getBytes(StandardCharsets.UTF_8).length > 255 - 22) {
            name = name.substring(0, name.length() - 1);
        }
        FileAttribute<?>[] attrs = {};
        if (Files.exists(target) && target.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            attrs = new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(Files.getPosixFilePermissions(target))};
        }
        for (int attempt = 0; ; attempt++) {
            Path tmp = dir.resolve("." + name + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
            try {
                FileChannel.open(tmp, java.util.Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE), attrs)
                        .close();
                if (attrs.length > 0) {
                    // the umask may have narrowed the mode given at creation
                    Files.setPosixFilePermissions(tmp, Files.getPosixFilePermissions(target));
                }
                return tmp;
            } catch (FileAlreadyExistsException e) {
                if (attempt > 100) {
                    throw e;
                }
            } catch (NoSuchFileException | AccessDeniedException e) {
                // The temporary name means nothing to the caller: name the file they asked for.
                String reason = e instanceof NoSuchFileException ? "its folder " + dir + " does not exist"
                        : "no permission to create a file in " + dir;
                FileSystemException named = e instanceof NoSuchFileException
                        ? new NoSuchFileException(target.toString(), null, reason)
                        : new AccessDeniedException(target.toString(), null, reason);
                named.initCause(e);
                throw named;
            }
        }
    }

    /** Makes the rename durable: on Linux a directory can be opened and forced. */
    private static void syncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // Some platforms cannot open directories; the file itself is already on disk.
        }
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
