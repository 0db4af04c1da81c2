package io.torchbridge.reader.internal.format;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.Format;
import java.nio.ByteOrder;

/**
 * A checkpoint's pickle, unpickled but not yet turned into public values.
 *
 * @param root      the raw root as the pickle reader leaves it (raw containers, tensor specs)
 * @param version   the file format version the container declares
 * @param byteOrder the byte order of the stored tensor data
 * @param unreadableTensor the refusal of the first tensor that cannot be read from its storage,
 *                  or null; the value tree refuses such a tensor under its name where it reaches it
 */
public record Unpickled(Format format, Object root, int version, ByteOrder byteOrder,
                        CheckpointException unreadableTensor) {
    /**
     * Throws {@link #unreadableTensor()}, if any: for a caller that builds no tree, and after a
     * tree is built for a tensor it never reached (PyTorch runs every rebuild, so refuses it too).
     */
    public void refuseUnreadableTensors() throws CheckpointException {
        if (unreadableTensor != null) {
            throw unreadableTensor;
        }
    }
}
