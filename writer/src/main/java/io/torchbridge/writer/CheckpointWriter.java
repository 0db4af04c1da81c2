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
import java.nio.file.Path;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

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

    /**
     * {@code torch.save(obj, target)}.
     *
     * @param obj    what to save: tensors, dicts, lists, tuples, numbers, strings, None
     * @param target the file to write; replaced atomically
     * @throws IOException the file cannot be written
     */
    public static void save(Object obj, Path target) throws IOException {
        save(obj, target, WriteOptions.defaults());
    }

    /**
     * {@code torch.save(obj, target)} with {@code options}. The whole object is pickled before
     * any file is created, so an object the writer cannot save leaves {@code target} untouched.
     *
     * @param obj     what to save: tensors, dicts, lists, tuples, numbers, strings, None
     * @param target  the file to write; replaced atomically
     * @param options archive name, fsync and progress
     * @throws IOException the file cannot be written
     */
    public static void save(Object obj, Path target, WriteOptions options) throws IOException {
        Path abs = AtomicFile.resolve(target); // torch.save writes through a link; so do we, beside the real file
        String archive = options.archiveName() != null ? options.archiveName() : archiveName(abs);

        // Pickle first (small, in memory): this validates the whole tree before any file exists.
        Map<StorageInfo, StorageSource> mapped = new IdentityHashMap<>();
        Pickler pickler = new Pickler(o -> view(o, mapped));
        byte[] pkl = pickler.dump(obj);

        AtomicFile.write(abs, options.fsync(), ch -> writeArchive(ch, archive, pkl, pickler.storages(), options));
    }

    /**
     * One torch.save archive, from the channel's position on (its offsets count from there, as
     * torch.save's into a stream): {@code data.pkl} and the storages the pickler met.
     */
    static void writeArchive(FileChannel ch, String archive, byte[] pkl, List<StorageSource> storages,
                             WriteOptions options) throws IOException {
        TorchZipWriter zip = new TorchZipWriter(ch, archive, 64, options.progress());
        // torch/serialization.py, _save: this order, storages in key order.
        zip.record("data.pkl", pkl);
        zip.record(".format_version", ascii("1"));
        zip.record(".storage_alignment", ascii("64"));
        zip.record("byteorder", ascii("little"));
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
    }

    /** torch names the archive folder after the file, without its last extension. */
    static String archiveName(Path file) {
        String base = file.getFileName().toString();
        int dot = base.lastIndexOf('.');
        return dot < 0 ? base : base.substring(0, dot);
    }

    static TensorView view(Object o, Map<StorageInfo, StorageSource> mapped) {
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

    /** Makes a rename durable (see {@link AtomicFile}); DcpWriter's folder commit uses it too. */
    static void syncDirectory(Path dir) {
        AtomicFile.syncDirectory(dir);
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
