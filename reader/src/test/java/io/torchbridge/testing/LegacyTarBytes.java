package io.torchbridge.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

/**
 * A legacy tar checkpoint from hand-made members, laid out as torch/serialization.py
 * {@code _legacy_load.legacy_load} reads it (see LegacyTar). Members are kept as bytes, so a test
 * can break one; {@link #entries} may be edited to add, repeat or drop members.
 */
public final class LegacyTarBytes {
    /** One tar member: its name, its bytes, and whether it is a symbolic link instead of a file. */
    public record Member(String name, byte[] data, boolean link) {
    }

    public final List<Member> entries = new ArrayList<>();

    /** The storages member: a count, then per storage (key, 'cpu', torch.FloatStorage), an int64 count, floats. */
    public static ByteArrayOutputStream storages(long count) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(P.proto(2).integer(count).stop().bytes());
        return out;
    }

    public static void floatStorage(ByteArrayOutputStream out, long key, long numel, byte[] data) {
        out.writeBytes(P.proto(2).mark().integer(key).str("cpu").global("torch", "FloatStorage").tuple().stop().bytes());
        out.writeBytes(le(numel));
        out.writeBytes(data);
    }

    /** The storage views list that ends the storages member: (key, root key, offset, numel) each. */
    public static void views(ByteArrayOutputStream out, long[]... views) {
        P p = P.proto(2).op(']').mark();
        for (long[] v : views) {
            p.mark().integer(v[0]).integer(v[1]).integer(v[2]).integer(v[3]).tuple();
        }
        out.writeBytes(p.op('e').stop().bytes());
    }

    /** A tensor record of the tensors member: (key, storage key, torch.FloatTensor), ndim, sizes, strides, offset. */
    public static void tensor(ByteArrayOutputStream out, long key, long storageKey, long[] size, long[] stride,
                              long offset) {
        out.writeBytes(P.proto(2).mark().integer(key).integer(storageKey).global("torch", "FloatTensor").tuple()
                .stop().bytes());
        out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(size.length).putInt(0).array());
        for (long s : size) {
            out.writeBytes(le(s));
        }
        for (long s : stride) {
            out.writeBytes(le(s));
        }
        out.writeBytes(le(offset));
    }

    /** {name: tensor by persistent id str(key), ...}. */
    public static byte[] pickle(Object... nameAndKey) {
        P p = P.proto(2).emptyDict().mark();
        for (int i = 0; i < nameAndKey.length; i += 2) {
            p.str((String) nameAndKey[i]).str(String.valueOf(nameAndKey[i + 1])).op('Q');
        }
        return p.setitems().stop().bytes();
    }

    public static byte[] le(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array();
    }

    public LegacyTarBytes member(String name, byte[] data) {
        entries.add(new Member(name, data, false));
        return this;
    }

    public LegacyTarBytes link(String name) {
        entries.add(new Member(name, new byte[0], true));
        return this;
    }

    public byte[] bytes() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(out)) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            for (Member m : entries) {
                TarArchiveEntry e = m.link() ? new TarArchiveEntry(m.name(), TarConstants.LF_SYMLINK)
                        : new TarArchiveEntry(m.name());
                if (m.link()) {
                    e.setLinkName("/etc/passwd");
                } else {
                    e.setSize(m.data().length);
                }
                tar.putArchiveEntry(e);
                if (!m.link()) {
                    tar.write(m.data());
                }
                tar.closeArchiveEntry();
            }
        }
        return out.toByteArray();
    }

    public Path write(Path dir, String name) throws IOException {
        return Files.write(dir.resolve(name), bytes());
    }
}
