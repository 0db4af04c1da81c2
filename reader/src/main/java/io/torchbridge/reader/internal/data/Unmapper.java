package io.torchbridge.reader.internal.data;

import java.lang.reflect.Field;
import java.nio.MappedByteBuffer;

/**
 * Unmaps a mapping now instead of when the garbage collector gets to it. Java 17 offers this only
 * through {@code sun.misc.Unsafe.invokeCleaner} (module {@code jdk.unsupported}); where that is
 * unavailable the mapping is left to the collector, which is correct, only later.
 *
 * <p>Only for mappings no live buffer points into: a read through a buffer over unmapped memory
 * crashes the JVM. {@link MappedFile} guarantees that (leases, and escaped windows never unmapped).
 */
final class Unmapper {
    private static final sun.misc.Unsafe UNSAFE = unsafe();

    private Unmapper() {
    }

    static void unmap(MappedByteBuffer mapping) {
        if (UNSAFE != null) {
            UNSAFE.invokeCleaner(mapping);
        }
    }

    private static sun.misc.Unsafe unsafe() {
        try {
            Field f = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            return (sun.misc.Unsafe) f.get(null);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }
}
