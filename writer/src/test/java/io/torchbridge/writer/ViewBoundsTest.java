package io.torchbridge.writer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.reader.Checkpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The writer's side of the one bounds check (Layout.fits): a view that reaches past its storage,
 * or cannot be a view at all, is the caller's mistake (IllegalArgumentException naming the tensor)
 * and leaves no file; a view that ends exactly at the storage's last element, or an empty one
 * anywhere, is saved.
 */
class ViewBoundsTest {
    @TempDir
    Path dir;

    private static final NewTensor BASE = NewTensor.of(new float[] {0, 1, 2, 3, 4, 5}, 6);

    private IllegalArgumentException refused(NewTensor view) {
        Path target = dir.resolve("bad.pt");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CheckpointWriter.save(Map.of("fc.weight", view), target));
        assertTrue(e.getMessage().contains("fc.weight"), e.getMessage());
        assertTrue(Files.notExists(target));
        return e;
    }

    @Test
    void aViewPastTheEndOfItsStorageIsRefused() {
        // [2, 3] at offset 1 needs elements 1..6 of a 6-element storage.
        IllegalArgumentException e = refused(BASE.view(1, new long[] {2, 3}, new long[] {3, 1}));
        assertTrue(e.getMessage().contains("reaches past the end of its storage of 6 elements"), e.getMessage());
    }

    @Test
    void aNegativeStrideOrOffsetIsRefused() {
        assertTrue(refused(BASE.view(5, new long[] {6}, new long[] {-1})).getMessage().contains("negative"));
        refused(BASE.view(-1, new long[] {2}, new long[] {1}));
    }

    @Test
    void aViewWhoseReachOverflowsIsRefusedNotWrapped() {
        refused(BASE.view(0, new long[] {2, 3}, new long[] {Long.MAX_VALUE / 2, 1}));
        refused(BASE.view(Long.MAX_VALUE, new long[] {2}, new long[] {1}));
    }

    @Test
    void aViewEndingAtTheLastElementAndAnEmptyViewAreSaved() throws Exception {
        Path target = dir.resolve("ok.pt");
        CheckpointWriter.save(Map.of("tail", BASE.view(3, new long[] {3}, new long[] {1}),
                "strided", BASE.view(1, new long[] {3}, new long[] {2}),
                "empty", BASE.view(100, new long[] {0, 4}, new long[] {4, 1})), target);
        try (Checkpoint c = Checkpoint.open(target)) {
            assertArrayEquals(new float[] {3, 4, 5}, c.tensor("tail").toFloatArray());
            assertArrayEquals(new float[] {1, 3, 5}, c.tensor("strided").toFloatArray());
            assertEquals(0, c.tensor("empty").numel());
            assertEquals(List.of(0L, 4L), List.of(c.tensor("empty").shape().dim(0), c.tensor("empty").shape().dim(1)));
        }
    }
}
