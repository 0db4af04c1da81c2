package io.torchbridge.reader.internal.format;

import io.torchbridge.reader.Format;
import java.nio.ByteOrder;

/**
 * A checkpoint's pickle, unpickled but not yet turned into public values.
 *
 * @param root      the raw root as the pickle reader leaves it (raw containers, tensor specs)
 * @param version   the file format version the container declares
 * @param byteOrder the byte order of the stored tensor data
 */
public record Unpickled(Format format, Object root, int version, ByteOrder byteOrder) {
}
