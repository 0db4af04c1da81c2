package io.torchbridge.libtorch.internal;

import io.torchbridge.reader.TensorInfo;
import io.torchbridge.reader.internal.data.MappedFile;
import io.torchbridge.reader.internal.data.MappedRegion;
import io.torchbridge.reader.internal.data.TensorRegions;
import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Storage;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * A zero-copy load: module tensors made views of the checkpoint file, as Python's
 * {@code load_state_dict(torch.load(f, mmap=True), assign=True)} makes them. The file is mapped
 * again by libtorch itself ({@code at::from_file} with {@code shared=false}, what
 * {@code torch.load(mmap=True)} uses): a private, copy-on-write mapping, so a write into such a
 * tensor (an optimizer step, BatchNorm's running statistics) copies the page for this process and
 * never reaches the file, and libtorch's storage unmaps it when the last tensor on it goes,
 * however long after the checkpoint is closed. The reader's own mapping is read-only and lives
 * in Java, so it serves neither purpose.
 *
 * <p>Taken only where the module allows it: the plain pair of both fast paths
 * ({@link MappedCopies#plainSource}), a destination that is all of its storage (not a view into a
 * buffer other tensors share, whose aliasing a new storage would break) or lies in a file mapping
 * (loaded zero-copy before), and a checkpoint tensor little-endian, in one region of one file, at
 * an offset that is a multiple of its element size. Anything else is left to the caller.
 */
public final class MappedViews {
    /** {@code shape}: the module tensor's own (a 1-element 1-d file tensor loads into a 0-d one). */
    private record View(String key, Tensor dst, MappedFile file, long byteOffset, TensorInfo info, long[] shape) {
    }

    private final Destinations destinations;
    private final List<View> views = new ArrayList<>();
    /** This process's file mappings, read when first needed ({@link #viewsAFileMapping}). */
    private TreeMap<Long, Long> fileMappings;

    /**
     * Views for one load.
     *
     * @param destinations the load's claims, shared with its other fast paths
     */
    public MappedViews(Destinations destinations) {
        this.destinations = destinations;
    }

    /**
     * Plans {@code dst} (the module's tensor for {@code key}) as a view of {@code value}'s bytes
     * in its file if both allow it, and says whether it did; {@code false} leaves it to the load's
     * other paths. A planned destination is claimed ({@link Destinations}); one that overlaps an
     * earlier destination is not planned. Nothing changes before {@link #run}.
     */
    public boolean add(String key, Tensor dst, Object value) {
        io.torchbridge.reader.Tensor src = MappedCopies.plainSource(dst, value);
        MappedRegion region = src == null ? null : TensorRegions.of(src); // null: gathered from chunks
        if (region == null || (src.dtype().itemSize() > 1 && region.order() != ByteOrder.LITTLE_ENDIAN)
                || ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN || !ownsOrViewsAFile(dst)) {
            return false;
        }
        TensorInfo i = src.info();
        long offset = Math.addExact(region.offset(), i.dtype().bytesFor(i.storageOffset()));
        if (offset % i.dtype().itemSize() != 0 || !destinations.claim(dst)) {
            return false;
        }
        views.add(new View(key, dst, region.file(), offset, i, dst.sizes().vec().get()));
        return true;
    }

    /**
     * Whether {@code dst} is all of its storage, so that nothing else can alias it, or lies in a
     * file mapping (an earlier zero-copy load), where re-pointing it leaves the other views as
     * they are.
     */
    private boolean ownsOrViewsAFile(Tensor dst) {
        try (Storage st = dst.storage()) { // a reference into dst, valid while dst is
            return (dst.storage_offset() == 0 && st.nbytes() == dst.nbytes()) || viewsAFileMapping(dst);
        }
    }

    /**
     * Whether {@code dst}'s storage lies in a file mapping of this process (an earlier zero-copy
     * load's, or torch's {@code mmap=True}). Read from
     * {@code /proc/self/maps} (Linux), once per load and only when a tensor needs it; libtorch's
     * {@code Storage.data_ptr()} is not used: the presets return it by moving it out of the storage.
     */
    private boolean viewsAFileMapping(Tensor dst) {
        if (fileMappings == null) {
            fileMappings = fileMappings();
        }
        long base;
        try (Pointer p = dst.data_ptr()) {
            base = p.address() - dst.storage_offset() * dst.element_size();
        }
        var e = fileMappings.floorEntry(base);
        return e != null && base < e.getValue();
    }

    /** The file-backed mappings of this process, start to end; empty where that cannot be read. */
    private static TreeMap<Long, Long> fileMappings() {
        TreeMap<Long, Long> out = new TreeMap<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
                // start-end perms offset dev inode [path]; inode 0: anonymous memory
                int dash = line.indexOf('-');
                int at = dash;
                for (int field = 0; field < 4 && at >= 0; field++) {
                    at = line.indexOf(' ', at + 1);
                }
                if (dash < 0 || at < 0) {
                    continue;
                }
                int inodeEnd = line.indexOf(' ', at + 1);
                if (line.substring(at + 1, inodeEnd < 0 ? line.length() : inodeEnd).equals("0")) {
                    continue;
                }
                int end = line.indexOf(' ', dash);
                out.put(Long.parseUnsignedLong(line, 0, dash, 16), Long.parseUnsignedLong(line, dash + 1, end, 16));
            }
        } catch (IOException | RuntimeException e) {
            out.clear(); // unknown: no tensor counts as a file's view
        }
        return out;
    }

    /**
     * Maps each file once and points every planned destination at its bytes ({@code set_data}:
     * the tensor keeps its identity, {@code requires_grad} and place in the module). Returns the
     * keys it could not map, in plan order, for the caller's copy: a file whose path now names
     * another file (replaced since the checkpoint was opened) is copied from the reader's own
     * mapping instead.
     */
    public List<String> run() {
        // The whole-file tensors stay open until every view is made: a Storage handle taken from
        // one (Tensor.storage()) is a reference into it, not a reference count of its own.
        Map<MappedFile, Tensor> mapped = new HashMap<>();
        List<String> left = new ArrayList<>();
        try {
            for (View v : views) {
                Tensor whole = mapped.computeIfAbsent(v.file(), MappedViews::map);
                if (whole == null) {
                    left.add(v.key());
                    continue;
                }
                TensorInfo i = v.info();
                Tensor view = Storages.view(whole, i.dtype(), v.shape(), contiguousStrides(v.shape()),
                        v.byteOffset() / i.dtype().itemSize(), false, false);
                try {
                    v.dst().set_data(view);
                } finally {
                    view.close();
                }
            }
        } finally {
            mapped.values().forEach(t -> {
                if (t != null) {
                    t.close(); // the views hold the storage, and with it the mapping
                }
            });
        }
        return left;
    }

    /** Row-major strides for {@code shape}, in elements (the file tensor is contiguous, so its values are these). */
    private static long[] contiguousStrides(long[] shape) {
        long[] stride = new long[shape.length];
        long step = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            stride[d] = step;
            step = Math.multiplyExact(step, Math.max(1, shape[d]));
        }
        return stride;
    }

    /** The whole file as a uint8 tensor, mapped privately; null when it is not the file the reader opened. */
    private static Tensor map(MappedFile file) {
        Path path = file.path();
        if (file.size() == 0) {
            return null;
        }
        Tensor t;
        try (TensorOptions o = new TensorOptions(ScalarType.Byte);
             BoolOptional shared = new BoolOptional(false);
             LongOptional size = new LongOptional(file.size())) {
            t = torch.from_file(path.toString(), shared, size, o);
        } catch (RuntimeException e) {
            return null; // gone, unreadable or shorter now: the reader's mapping still has the bytes
        }
        if (!file.isAt(path)) {
            t.close();
            return null; // replaced since it was opened: what was just mapped is another file
        }
        return t;
    }
}
