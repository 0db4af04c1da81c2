package io.torchbridge.reader.internal.format;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.reader.Format;
import io.torchbridge.reader.ReadOptions;
import io.torchbridge.reader.internal.data.MappedFile;
import io.torchbridge.reader.internal.pickle.RawDict;
import io.torchbridge.reader.internal.zip.ZipContainer;
import java.nio.ByteOrder;

/**
 * A NumPy archive ({@code numpy.savez}): a zip of {@code NAME.npy} records at the top, each an
 * array ({@link Npy}); read as a dict of arrays by NAME, in the archive's order, as
 * {@code numpy.load(path)} lists them. Records are mapped where they lie, so only stored ones
 * are read; {@code numpy.savez_compressed} deflates them and is refused with that reason.
 */
public final class Npz implements CheckpointFormat {
    private final MappedFile file;
    private final ZipContainer zip;

    /** Reads from {@code zip}, the flat index of {@code file} ({@link ZipContainer#openFlat}); both stay the caller's. */
    public Npz(MappedFile file, ZipContainer zip) {
        this.file = file;
        this.zip = zip;
    }

    @Override
    public Unpickled unpickle(ReadOptions options, boolean allowTrailing) throws CheckpointException {
        RawDict root = RawDict.of("builtins.dict");
        int key = 0;
        int major = 1;
        for (String name : zip.names()) {
            ZipContainer.Entry e = zip.entry(name).orElseThrow();
            if (!name.endsWith(".npy")) { // safety: npz-records-are-npy
                throw CheckpointException.at(Kind.MALFORMED, name, -1, "a .npz holds NAME.npy records only");
            }
            if (!e.stored()) { // safety: npz-record-stored
                throw CheckpointException.at(Kind.UNSUPPORTED, name, -1, "the record is compressed "
                        + "(numpy.savez_compressed), so it cannot be mapped; re-save with numpy.savez, or in Python "
                        + "numpy.savez(new_path, **numpy.load(path))");
            }
            Npy.Array a = Npy.array(file, e.dataOffset(), e.size(), name, Integer.toString(key++));
            major = Math.max(major, a.major());
            root.items.put(name.substring(0, name.length() - ".npy".length()), a.spec());
        }
        return new Unpickled(Format.NPZ, root, major, ByteOrder.LITTLE_ENDIAN, null);
    }
}
