package io.torchbridge.reader.internal.data;

import io.torchbridge.reader.Tensor;
import java.util.function.Function;

/**
 * The region behind a {@link Tensor}, for the writer (this package is exported to it alone): it
 * copies a read checkpoint's storage under a lease of the file instead of through
 * {@link Tensor#storageChunks()}, whose views would pin their mapping windows past close. The
 * public API stays without such a method; {@code Tensor} hands its accessor in when its class is
 * initialized, which happens before any tensor exists.
 */
public final class TensorRegions {
    private static volatile Function<Tensor, MappedRegion> access;

    private TensorRegions() {
    }

    /** Called once, by {@code Tensor}'s class initializer. */
    public static void install(Function<Tensor, MappedRegion> accessor) {
        if (access != null) {
            throw new IllegalStateException("already installed");
        }
        access = accessor;
    }

    /** The storage region of {@code t}; read it under {@link MappedFile#acquire()}. */
    public static MappedRegion of(Tensor t) {
        return access.apply(t);
    }
}
