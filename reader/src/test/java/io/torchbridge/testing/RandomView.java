package io.torchbridge.testing;

import java.util.Random;

/**
 * A random strided view for property tests: sizes 0..4 per dimension (0 makes it empty), strides
 * 0 (an expanded dimension) one time in four, else 1..maxStride, and an offset 0..maxOffset - 1.
 */
public record RandomView(long[] shape, long[] stride, long offset) {
    public static RandomView of(Random r, int rank, int maxStride, int maxOffset) {
        long[] shape = new long[rank];
        long[] stride = new long[rank];
        for (int i = 0; i < rank; i++) {
            shape[i] = r.nextInt(5);
            stride[i] = r.nextInt(4) == 0 ? 0 : 1 + r.nextInt(maxStride);
        }
        return new RandomView(shape, stride, r.nextInt(maxOffset));
    }
}
