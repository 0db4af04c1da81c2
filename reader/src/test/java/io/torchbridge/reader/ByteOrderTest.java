package io.torchbridge.reader;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.torchbridge.testing.Crafted;
import io.torchbridge.testing.P;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A file written on a big-endian machine says so in its {@code byteorder} record (torch 2.1+). */
class ByteOrderTest {
    @TempDir
    Path dir;

    @Test
    void bigEndianStoragesAreSwappedOnCopyAndViewsSayTheirOrder() throws Exception {
        float[] values = {1.5f, -2.25f, Float.MIN_VALUE, Float.NaN};
        ByteBuffer be = ByteBuffer.allocate(16).order(ByteOrder.BIG_ENDIAN);
        for (float v : values) {
            be.putFloat(v);
        }
        byte[] pkl = P.proto(2).tensorV2("FloatStorage", "0", 4, 0, new long[] {2, 2}, new long[] {1, 2}).stop().bytes();
        Path f = Crafted.checkpoint(pkl).record("byteorder", "big".getBytes(StandardCharsets.US_ASCII))
                .storage("0", be.array()).write(dir, "be.pt");
        try (Checkpoint c = Checkpoint.open(f)) {
            Tensor t = (Tensor) c.root();
            assertEquals(ByteOrder.BIG_ENDIAN, c.byteOrder());
            assertEquals(ByteOrder.BIG_ENDIAN, t.data().order());
            // stride (1, 2): a transpose, so the logical order is 0, 2, 1, 3
            float[] got = t.toFloatArray();
            assertArrayEquals(new float[] {values[0], values[2], values[1], values[3]}, got);
            ByteBuffer le = ByteBuffer.wrap(t.toByteArray()).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(values[2], le.getFloat(4));
        }
    }
}
