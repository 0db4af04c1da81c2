package io.torchbridge.writer.internal;

import io.torchbridge.reader.DType;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The bytes of one storage, streamed in order to the archive. One instance is one storage:
 * tensors that share it share the instance, and the pickler keys storages by identity.
 */
public interface StorageSource {
    /** The dtype the data was made as, or {@code null} when any dtype may view it (raw bytes). */
    DType dtype();

    long nbytes();

    /** Writes all {@link #nbytes()} bytes, little-endian, to {@code sink} in order. */
    void writeTo(Sink sink) throws IOException;

    /** Receives consecutive pieces; must consume each buffer's remaining bytes. */
    @FunctionalInterface
    interface Sink {
        void write(ByteBuffer piece) throws IOException;
    }
}
