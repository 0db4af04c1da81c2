package io.torchbridge.reader.internal.data;

import java.nio.ByteBuffer;

/** Receives consecutive pieces of a byte stream; must consume all of {@code src}'s remaining bytes. */
@FunctionalInterface
public interface ByteSink {
    void write(ByteBuffer src);
}
