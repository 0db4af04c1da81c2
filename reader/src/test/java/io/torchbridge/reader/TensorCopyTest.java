package io.torchbridge.reader;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.torchbridge.testing.Repo;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Copies into the caller's arrays agree with the allocating accessors. */
class TensorCopyTest {
    @Test
    void copyToFillsTheCallersArrayFromAnOffset() throws Exception {
        try (Checkpoint c = Checkpoint.open(Repo.fixture("2.14.1", "module_transformer.pt"))) {
            for (Tensor t : c.tensors().values()) {
                if (t.dtype() != DType.FLOAT32) {
                    assertThrows(IllegalStateException.class, () -> t.copyTo(new float[(int) t.numel() + 3], 0));
                    continue;
                }
                float[] dst = new float[(int) t.numel() + 3];
                Arrays.fill(dst, -7f);
                t.copyTo(dst, 3);
                assertArrayEquals(t.toFloatArray(), Arrays.copyOfRange(dst, 3, dst.length), t.name());
                assertArrayEquals(new float[] {-7f, -7f, -7f}, Arrays.copyOf(dst, 3));
                assertThrows(IllegalArgumentException.class, () -> t.copyTo(new float[(int) t.numel()], 1));
            }
        }
    }
}
