package io.torchbridge.writer.internal;

import io.torchbridge.reader.DType;
import io.torchbridge.reader.internal.data.StoredRecord;
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

    /**
     * The read checkpoint's record that holds exactly these bytes, unchanged, for a file-to-file
     * copy that keeps its CRC; null when the bytes must go through {@link #writeTo}.
     */
    default StoredRecord stored() {
        return null;
    }

    /** Receives consecutive pieces; must consume each buffer's remaining bytes. */
    interface Sink {
        void write(ByteBuffer piece) throws IOException;

        /**
         * The writer's reusable little-endian buffer, cleared, for a source that has to convert
         * its data into bytes: fill it and pass it to {@link #write}. Valid until the next call;
         * at least 64 KiB, at most a few MiB, the same one for every storage of a save.
         */
        ByteBuffer scratch();
    }
}
