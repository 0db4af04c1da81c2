package io.torchbridge.libtorch;

import io.torchbridge.libtorch.internal.Devices;
import io.torchbridge.libtorch.internal.ScalarTypes;
import io.torchbridge.libtorch.internal.Snapshots;
import io.torchbridge.libtorch.internal.Storages;
import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.DType;
import io.torchbridge.reader.TensorInfo;
import io.torchbridge.writer.NewTensor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Checkpoint tensors as libtorch tensors, and libtorch tensors back as tensors the writer saves.
 *
 * <pre>{@code
 * try (Checkpoint ckpt = Checkpoint.open(path);
 *      NativeTensorMap sd = NativeTensors.loadAll(ckpt, LoadOptions.defaults()
 *              .withMapLocation(MapLocation.to("cpu")).withCast(DType.BFLOAT16, DType.FLOAT32))) {
 *     Tensor w = sd.tensor("fc1.weight");
 * }
 * }</pre>
 *
 * <p><b>Into libtorch.</b> On the CPU a tensor is, by default, a view of the checkpoint's mapped
 * record, with no copy: same dtype, shape, strides, storage offset and conj/neg bits, and tensors
 * that share a storage in the file share it here. That needs a little-endian file, a storage in
 * one mapped view (up to 1 GiB) and an address aligned to the element size; otherwise, and for
 * {@link LoadOptions#writable() writable} tensors, the storage is copied once. A CUDA target gets
 * one host-to-device copy of the storage; a dtype cast one more. See {@link NativeTensor} for who
 * owns what, and why file-backed tensors must not be written to.
 *
 * <p><b>Back to the writer.</b> {@link #toNewTensor} copies a libtorch tensor's storage (CPU or
 * CUDA) once into the Java heap and keeps its view, so what is saved is the tensor as it was at
 * the call. The location tag is the tensor's device, as {@code torch.save} writes it, unless
 * another is given.
 */
public final class NativeTensors {
    private NativeTensors() {
    }

    /**
     * {@return {@code t} as a libtorch tensor with the default options (saved location, zero-copy)}
     *
     * @param t a tensor of an open checkpoint
     */
    public static NativeTensor load(io.torchbridge.reader.Tensor t) {
        return load(t, LoadOptions.defaults());
    }

    /**
     * {@return {@code t} as a libtorch tensor}
     *
     * @param t       a tensor of an open checkpoint
     * @param options device, dtype casts and writability
     */
    public static NativeTensor load(io.torchbridge.reader.Tensor t, LoadOptions options) {
        return loadAll(List.of(Map.entry(name(t), t)), options).values().iterator().next();
    }

    /**
     * {@return every tensor of {@code ckpt}, by name, with the default options}
     *
     * @param ckpt an open checkpoint
     */
    public static NativeTensorMap loadAll(Checkpoint ckpt) {
        return loadAll(ckpt, LoadOptions.defaults());
    }

    /**
     * {@return every tensor of {@code ckpt}, by name in the checkpoint's order; each storage is placed (and
     * copied, if it must be) once}
     *
     * @param ckpt    an open checkpoint
     * @param options device, dtype casts and writability
     * @throws IllegalStateException a storage goes to a CUDA device this machine lacks (PyTorch's
     *                               message and advice), or the checkpoint is closed
     * @throws IllegalArgumentException two paths give different tensors one name ({@link Checkpoint#ambiguousNames()})
     */
    public static NativeTensorMap loadAll(Checkpoint ckpt, LoadOptions options) {
        if (!ckpt.ambiguousNames().isEmpty()) {
            // a map by name would keep one of them silently
            String name = ckpt.ambiguousNames().iterator().next();
            throw new IllegalArgumentException("the checkpoint names different tensors alike, so they cannot be "
                    + "loaded by name: " + ckpt.ambiguousNames() + " (the paths of '" + name + "': "
                    + ckpt.paths(name) + "); load each with NativeTensors.load(ckpt.tensorAt(keys...))");
        }
        return new NativeTensorMap(loadAll(new ArrayList<>(ckpt.tensors().entrySet()), options));
    }

    @SuppressWarnings("try") // a scope guard (PointerScope, NoGradGuard), used for its lifetime alone
    static Map<String, NativeTensor> loadAll(List<Map.Entry<String, io.torchbridge.reader.Tensor>> tensors,
                                             LoadOptions options) {
        // Check every target device before any copy, as torch.load fails before it builds anything.
        Map<String, String> targets = new HashMap<>();
        for (var e : tensors) {
            TensorInfo i = e.getValue().info();
            if (i.layout() != io.torchbridge.reader.TensorLayout.STRIDED) {
                // its info describes the dense copy, not a view of one storage
                throw new IllegalArgumentException("tensor '" + e.getKey() + "' is " + i.layout() + ": libtorch "
                        + "tensors are made here only from strided ones; use its components() or a dense copy "
                        + "(Tensor.toFloatArray(), stream())");
            }
            String target = options.mapLocation().target(i.storage().location());
            Devices.checkAvailable(target);
            targets.put(i.storage().key(), target);
            ScalarTypes.of(i.dtype());
            ScalarTypes.of(options.target(i.dtype()));
        }
        Map<String, Storages.Bytes> storages = new HashMap<>();
        Map<String, NativeTensor> out = new LinkedHashMap<>();
        try {
            for (var e : tensors) {
                io.torchbridge.reader.Tensor t = e.getValue();
                TensorInfo i = t.info();
                String key = i.storage().key();
                String target = targets.get(key);
                Storages.Bytes bytes = storages.get(key);
                if (bytes == null) {
                    bytes = Storages.storageBytes(t, options.writable());
                    if (!target.equals("cpu")) {
                        try (PointerScope scope = new PointerScope()) {
                            Tensor moved = bytes.tensor().to(Devices.device(target), ScalarType.Byte);
                            moved.retainReference(); // the scope releases one reference; this method keeps the other
                            bytes.tensor().close();
                            bytes = new Storages.Bytes(moved, false);
                        }
                    }
                    storages.put(key, bytes);
                }
                Tensor v = Storages.view(bytes.tensor(), i.dtype(), i.shape().toArray(), i.stride().toArray(),
                        i.storageOffset(), i.conj(), i.neg());
                boolean fileBacked = bytes.fileBacked();
                DType want = options.target(i.dtype());
                if (want != i.dtype()) {
                    Tensor cast = v.to(ScalarTypes.of(want));
                    v.close();
                    v = cast;
                    fileBacked = false;
                }
                if (i.requiresGrad() && (want.family() == DType.Family.FLOAT || want.family() == DType.Family.COMPLEX)) {
                    v.set_requires_grad(true);
                }
                out.put(e.getKey(), new NativeTensor(e.getKey(), v, fileBacked));
            }
        } catch (RuntimeException | Error ex) {
            out.values().forEach(NativeTensor::close);
            throw ex;
        } finally {
            // The views hold the storages; the whole-storage handles are no longer needed.
            storages.values().forEach(b -> b.tensor().close());
        }
        return out;
    }

    private static String name(io.torchbridge.reader.Tensor t) {
        return t.name() != null ? t.name() : "tensor";
    }

    /**
     * {@return {@code t} as the writer saves it, tagged with its device ({@code cpu}, {@code cuda:0}) as
     * {@code torch.save} tags it} One copy of its storage into the Java heap.
     *
     * @param t a libtorch tensor, on any device
     */
    public static NewTensor toNewTensor(Tensor t) {
        return new Snapshots(null).convert(t, "tensor");
    }

    /**
     * Like {@link #toNewTensor(Tensor)}, saved with the location tag {@code location} (say
     * {@code "cpu"}, so that Python loads a CUDA tensor on a CPU-only machine without a
     * {@code map_location}).
     *
     * @param t        a libtorch tensor, on any device
     * @param location the saved location tag; {@code null} for the tensor's device
     * @return the tensor as the writer saves it
     */
    public static NewTensor toNewTensor(Tensor t, String location) {
        return new Snapshots(Devices.normalize(location)).convert(t, "tensor");
    }

    /**
     * Many libtorch tensors at once, keeping shared storages shared (each copied once), in the
     * map's order. {@code location} is the tag for all, or {@code null} for each one's device.
     *
     * @param tensors  libtorch tensors by name
     * @param location the saved location tag for all, or {@code null}
     * @return the tensors as the writer saves them, by name, in the map's order
     */
    public static Map<String, NewTensor> toNewTensors(Map<String, Tensor> tensors, String location) {
        Snapshots s = new Snapshots(location == null ? null : Devices.normalize(location));
        Map<String, NewTensor> out = new LinkedHashMap<>();
        tensors.forEach((k, v) -> out.put(k, s.convert(v, k)));
        return out;
    }

    /**
     * libtorch's scalar type for a checkpoint dtype (quantized dtypes have none here).
     *
     * @param dtype a checkpoint dtype
     * @return the matching scalar type
     */
    public static ScalarType scalarType(DType dtype) {
        return ScalarTypes.of(dtype);
    }

    /**
     * {@return the checkpoint dtype of a libtorch scalar type}
     *
     * @param type a libtorch scalar type
     */
    public static DType dtype(ScalarType type) {
        return ScalarTypes.of(type);
    }
}
