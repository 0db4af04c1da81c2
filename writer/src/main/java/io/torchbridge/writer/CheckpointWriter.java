package io.torchbridge.writer;

import io.torchbridge.reader.StorageInfo;
import io.torchbridge.reader.Tensor;
import io.torchbridge.reader.TensorInfo;
import io.torchbridge.writer.internal.Pickler;
import io.torchbridge.writer.internal.Sources;
import io.torchbridge.writer.internal.StorageSource;
import io.torchbridge.writer.internal.TensorView;
import io.torchbridge.writer.internal.TorchZipWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
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
        Path dir = abs.getParent();
        String archive = options.archiveName() != null ? options.archiveName() : archiveName(abs);

        // Pickle first (small, in memory): this validates the whole tree before any file exists.
        Map<StorageInfo, StorageSource> mapped = new IdentityHashMap<>();
        Pickler pickler = new Pickler(o -> view(o, mapped));
        byte[] pkl = pickler.dump(obj);

        Path tmp = createTemp(dir, abs.getFileName().toString());
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
                    zip.record("data/" + i, s.nbytes(), s::writeTo);
                }
                zip.record("version", ascii("3\n"));
                zip.record(".data/serialization_id", ascii(zip.serializationId()));
                zip.finish();
                if (options.fsync()) {
                    ch.force(true);
                }
            }
            try {
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            }
            done = true;
            if (options.fsync()) {
                syncDirectory(dir);
            }
        } finally {
            if (!done) {
                Files.deleteIfExists(tmp);
            }
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
            StorageSource s = mapped.computeIfAbsent(i.storage(), k -> {
                List<ByteBuffer> chunks = t.storageChunks();
                return Sources.mapped(chunks, k.nbytes(), i.dtype(),
                        chunks.isEmpty() ? java.nio.ByteOrder.LITTLE_ENDIAN : chunks.get(0).order());
            });
            return new TensorView(s, i.storage().location(), i.dtype(), i.shape().toArray(), i.stride().toArray(), i.storageOffset(),
                    i.requiresGrad(), i.parameter(), i.conj(), i.neg());
        }
        return null;
    }

    private static Path createTemp(Path dir, String name) throws IOException {
        for (int attempt = 0; ; attempt++) {
            Path tmp = dir.resolve("." + name + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
            try {
                FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).close();
                return tmp;
            } catch (FileAlreadyExistsException e) {
                if (attempt > 100) {
                    throw e;
                }
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
