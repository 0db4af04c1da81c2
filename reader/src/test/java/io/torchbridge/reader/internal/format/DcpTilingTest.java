package io.torchbridge.reader.internal.format;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.CheckpointException.Kind;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The rule that a DCP tensor's chunks tile it exactly, on chunk layouts torch's 1-D mesh never writes. */
class DcpTilingTest {
    private static long[][] box(long r, long c, long h, long w) {
        return new long[][] {{r, c}, {h, w}};
    }

    @Test
    void aTwoByTwoGridTiles() {
        assertDoesNotThrow(() -> Dcp.requireChunksTile("w", new long[] {4, 6}, 24,
                List.of(box(0, 0, 2, 3), box(0, 3, 2, 3), box(2, 0, 2, 3), box(2, 3, 2, 3))));
    }

    @Test
    void overlapInAGridIsFoundPairByPair() {
        // the same element count as the tensor: only the overlap check tells it from a tiling
        CheckpointException e = assertThrows(CheckpointException.class, () -> Dcp.requireChunksTile("w",
                new long[] {4, 6}, 24, List.of(box(0, 0, 2, 3), box(0, 2, 2, 3), box(2, 0, 2, 3), box(2, 3, 2, 3))));
        assertEquals(Kind.MALFORMED, e.kind());
    }

    @Test
    void manyChunksSplitTwoWaysAreRefusedNotComparedForever() {
        List<long[][]> boxes = new ArrayList<>();
        for (int r = 0; r < 65; r++) {
            for (int c = 0; c < 65; c++) {
                boxes.add(box(r, c, 1, 1));
            }
        }
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> Dcp.requireChunksTile("w", new long[] {65, 65}, 65 * 65, boxes));
        assertEquals(Kind.LIMIT_EXCEEDED, e.kind());
    }

    @Test
    void manyChunksAlongOneDimensionAreCheckedInOrder() {
        List<long[][]> boxes = new ArrayList<>();
        for (int r = 99_999; r >= 0; r--) {
            boxes.add(box(r, 0, 1, 3));
        }
        assertDoesNotThrow(() -> Dcp.requireChunksTile("w", new long[] {100_000, 3}, 300_000, boxes));
        boxes.set(5, box(7, 0, 1, 3)); // twice row 7, no row 99994
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> Dcp.requireChunksTile("w", new long[] {100_000, 3}, 300_000, boxes));
        assertEquals(Kind.MALFORMED, e.kind());
    }
}
