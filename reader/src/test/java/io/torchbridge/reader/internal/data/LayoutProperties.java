package io.torchbridge.reader.internal.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.testing.RandomView;
import java.util.Random;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/**
 * Layout's element counts and bounds against brute force: for small random shapes, strides and
 * offsets, every index tuple is visited and the largest storage index it reaches is taken; the
 * view fits a storage exactly when that index is inside it.
 */
class LayoutProperties {

    @Property(tries = 1000)
    void extentAndBoundsAgreeWithTheLargestIndexReached(@ForAll @IntRange(min = 0, max = 4) int rank,
                                                        @ForAll long seed) {
        Random r = new Random(seed);
        RandomView v = RandomView.of(r, rank, 9, 6);
        long[] shape = v.shape();
        long[] stride = v.stride();
        long offset = v.offset();

        long count = 0;
        long maxIndex = -1; // -1: no element reached
        long[] idx = new long[rank];
        boolean empty = false;
        for (long s : shape) {
            empty |= s == 0;
        }
        while (!empty) {
            long e = offset;
            for (int d = 0; d < rank; d++) {
                e += idx[d] * stride[d];
            }
            maxIndex = Math.max(maxIndex, e);
            count++;
            int d = rank - 1;
            while (d >= 0 && ++idx[d] == shape[d]) {
                idx[d] = 0;
                d--;
            }
            if (d < 0) {
                break;
            }
        }

        assertEquals(count, Layout.numel(shape));
        assertEquals(maxIndex < 0 ? 0 : maxIndex - offset + 1, Layout.extent(shape, stride));
        assertEquals(maxIndex + 1, Layout.storageNeeded(shape, stride, offset), "0 when empty");
        for (long available = 0; available <= offset + 40; available++) {
            assertEquals(maxIndex < available, Layout.fits(shape, stride, offset, available),
                    "storage of " + available + " elements");
        }
    }

    @Property(tries = 500)
    void contiguousMeansTheValuesAreOneRunFromTheOffset(@ForAll @IntRange(min = 0, max = 4) int rank,
                                                        @ForAll long seed) {
        Random r = new Random(seed);
        long[] shape = new long[rank];
        long[] stride = new long[rank];
        long run = 1;
        for (int i = rank - 1; i >= 0; i--) {
            shape[i] = 1 + r.nextInt(4);
            stride[i] = run;
            run *= shape[i];
        }
        assertTrue(Layout.isContiguous(shape, stride));
        assertEquals(Layout.numel(shape), Layout.extent(shape, stride));
        // Changing the stride of a dimension of size over 1 breaks it; of size 1, it does not.
        for (int i = 0; i < rank; i++) {
            long[] other = stride.clone();
            other[i] += 1 + r.nextInt(3);
            assertEquals(shape[i] == 1, Layout.isContiguous(shape, other));
        }
    }

    @Example
    void aScalarIsOneElement() {
        assertEquals(1, Layout.numel(new long[0]));
        assertEquals(1, Layout.extent(new long[0], new long[0]));
        assertTrue(Layout.fits(new long[0], new long[0], 3, 4));
        assertFalse(Layout.fits(new long[0], new long[0], 4, 4));
    }

    @Example
    void anEmptyViewFitsAnyStorageAtAnyOffset() {
        assertEquals(0, Layout.extent(new long[] {3, 0}, new long[] {1000, 1}));
        assertTrue(Layout.fits(new long[] {3, 0}, new long[] {1000, 1}, 1_000_000, 0));
    }

    @Example
    void refusesWhatCannotBeAView() {
        assertFalse(Layout.fits(new long[] {2}, new long[] {1, 1}, 0, 100), "ranks differ");
        assertFalse(Layout.fits(new long[] {2}, new long[] {-1}, 1, 100), "negative stride");
        assertFalse(Layout.fits(new long[] {-2}, new long[] {1}, 0, 100), "negative size");
        assertFalse(Layout.fits(new long[] {2}, new long[] {1}, -1, 100), "negative offset");
    }

    @Example
    void overflowIsAnErrorOrARefusalNeverAWrappedValue() {
        long big = Long.MAX_VALUE / 2;
        assertThrows(ArithmeticException.class, () -> Layout.numel(new long[] {big, 3}));
        assertThrows(ArithmeticException.class, () -> Layout.extent(new long[] {3, 2}, new long[] {big, 1}));
        assertThrows(ArithmeticException.class, () -> Layout.storageNeeded(new long[] {2}, new long[] {big}, big + 5));
        assertFalse(Layout.fits(new long[] {3, 2}, new long[] {big, 1}, 0, Long.MAX_VALUE));
        assertFalse(Layout.fits(new long[] {2}, new long[] {big}, big + 5, Long.MAX_VALUE));
        // Exactly at the top: offset + extent == Long.MAX_VALUE fits a storage that large; one more does not.
        long[] top = {Long.MAX_VALUE - 1};
        assertEquals(Long.MAX_VALUE, Layout.storageNeeded(new long[] {2}, top, 0));
        assertTrue(Layout.fits(new long[] {2}, top, 0, Long.MAX_VALUE));
        assertFalse(Layout.fits(new long[] {2}, top, 1, Long.MAX_VALUE));
    }
}
