package io.torchbridge.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A legacy-stream checkpoint from hand-made parts, laid out as torch/serialization.py
 * {@code _legacy_save} writes it: pickles of the magic number, the protocol version, sys_info, the
 * object and the key list, then per key an int64 element count (little-endian) and the bytes.
 * Every part can be replaced, so a test can break exactly one thing.
 */
public final class LegacyBytes {
    /** torch/serialization.py MAGIC_NUMBER. */
    public static final BigInteger MAGIC = new BigInteger("1950a86a20f9469cfc6c", 16);

    public byte[] magic = P.proto(2).long1(MAGIC).stop().bytes();
    public byte[] version = P.proto(2).integer(1001).stop().bytes();
    public byte[] sysInfo = P.proto(2).emptyDict().mark().str("protocol_version").integer(1001)
            .str("little_endian").op(0x88).setitems().stop().bytes();
    public byte[] object;
    public byte[] keys;
    /** The storage section: what follows the key list. */
    public final ByteArrayOutputStream storages = new ByteArrayOutputStream();

    public LegacyBytes(byte[] object, String... keys) {
        this.object = object;
        this.keys = keyList(keys);
    }

    /** {@code [k1, k2, ...]} as torch pickles the sorted key list. */
    public static byte[] keyList(String... keys) {
        P p = P.proto(2).op(']').mark();
        for (String k : keys) {
            p.str(k);
        }
        return p.op('e').stop().bytes();
    }

    /** Appends a storage: its element count, then the bytes. */
    public LegacyBytes storage(long count, byte[] data) {
        storages.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(count).array());
        storages.writeBytes(data);
        return this;
    }

    /** Little-endian float32 values. */
    public static byte[] floats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putFloat(f);
        }
        return b.array();
    }

    /** Where the storage section starts. */
    public int storagesOffset() {
        return magic.length + version.length + sysInfo.length + object.length + keys.length;
    }

    public byte[] bytes() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] b : List.of(magic, version, sysInfo, object, keys)) {
            out.writeBytes(b);
        }
        out.writeBytes(storages.toByteArray());
        return out.toByteArray();
    }

    public Path write(Path dir, String name) throws IOException {
        return Files.write(dir.resolve(name), bytes());
    }

    /**
     * {@code ('storage', torch.<type>, key, 'cpu', numel, None)} then BINPERSID: the legacy
     * stream's persistent id, with its sixth item, view_metadata.
     */
    public static P storageId(P p, String type, String key, long numel) {
        return p.mark().str("storage").global("torch", type).str(key).str("cpu").integer(numel).none().tuple()
                .op('Q');
    }

    /** A persistent id with view_metadata {@code (viewKey, offset, size)}, as torch before 1.0 wrote it. */
    public static P storageViewId(P p, String type, String key, long numel, String viewKey, long offset, long size) {
        return p.mark().str("storage").global("torch", type).str(key).str("cpu").integer(numel)
                .mark().str(viewKey).integer(offset).integer(size).tuple().tuple().op('Q');
    }

    /** {@code torch._utils._rebuild_tensor_v2(<legacy storage id>, offset, size, stride, False, OrderedDict())}. */
    public static P tensor(P p, String type, String key, long numel, long offset, long[] size, long[] stride) {
        p.global("torch._utils", "_rebuild_tensor_v2").mark();
        storageId(p, type, key, numel).integer(offset);
        p.mark();
        for (long s : size) {
            p.integer(s);
        }
        p.tuple().mark();
        for (long s : stride) {
            p.integer(s);
        }
        p.tuple().op(0x89).global("collections", "OrderedDict").emptyTuple().reduce();
        return p.tuple().reduce();
    }

    /** A dict pickle {name: tensor, ...} of float tensors, each given as (key, numel, offset, size, stride). */
    public static byte[] dictOf(List<Object[]> tensors) {
        P p = P.proto(2).emptyDict().mark();
        for (Object[] t : tensors) {
            p.str((String) t[0]);
            tensor(p, "FloatStorage", (String) t[1], (long) t[2], (long) t[3], (long[]) t[4], (long[]) t[5]);
        }
        return p.setitems().stop().bytes();
    }

    /** Convenience for {@link #dictOf}: one row. */
    public static Object[] row(String name, String key, long numel, long offset, long[] size, long[] stride) {
        return new Object[] {name, key, numel, offset, size, stride};
    }

    public static List<Object[]> rows(Object[]... r) {
        return new ArrayList<>(List.of(r));
    }
}
