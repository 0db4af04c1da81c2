package io.torchbridge.reader.internal.data;

import io.torchbridge.reader.Tensor;
import java.util.function.Function;

/**
 * What lies behind a {@link Tensor}, for the writer and native (this package is exported to them
 * alone): its storage's region, which the writer copies under a lease of the file instead of
 * through {@link Tensor#storageChunks()} (whose views would pin their mapping windows past close)
 * and native maps again, copy-on-write, for a zero-copy load; and the stored zip record, which the
 * writer copies file-to-file with its CRC. The public API stays without such methods;
 * {@code Tensor} hands its accessors in when its class is initialized, which happens before any
 * tensor exists.
 */
public final class TensorRegions {
    private static volatile Function<Tensor, MappedRegion> regions;
    private static volatile Function<Tensor, StoredRecord> records;

    private TensorRegions() {
    }

    /** Called once, by {@code Tensor}'s class initializer. */
    public static void install(Function<Tensor, MappedRegion> region, Function<Tensor, StoredRecord> record) {
        if (regions != null) {
            throw new IllegalStateException("already installed");
        }
        records = record;
        regions = region;
    }

    /** The storage region of {@code t}; read it under {@link MappedFile#acquire()}. */
    public static MappedRegion of(Tensor t) {
        return regions.apply(t);
    }

    /**
     * The stored zip record behind {@code t}'s storage, or null when it has none (its bytes are
     * not one stored record of a zip checkpoint).
     */
    public static StoredRecord record(Tensor t) {
        return records.apply(t);
    }
}
