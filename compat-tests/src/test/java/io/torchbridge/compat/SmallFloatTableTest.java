package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.Tensor;
import io.torchbridge.testing.Repo;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every bit pattern of float16, bfloat16 and each float8 kind, decoded by the reader, against
 * torch 2.14's own {@code .float()} of the same tensor, written in this run.
 */
class SmallFloatTableTest {
    @TempDir
    Path tmp;

    @Test
    void everyBitPatternDecodesAsTorchConvertsIt() throws Exception {
        TorchMatrix.Torch torch = TorchMatrix.require("2.14.1");
        Path file = tmp.resolve("tables.pt");
        torch.run(300, Repo.fixtures().resolve("float_tables.py").toString(), file.toString());
        int compared = 0;
        try (Checkpoint c = Checkpoint.open(file)) {
            for (Map.Entry<String, Tensor> e : c.tensors().entrySet()) {
                if (e.getKey().endsWith(".as_float32")) {
                    continue;
                }
                float[] ours = e.getValue().toFloatArray();
                float[] torchs = c.tensor(e.getKey() + ".as_float32").toFloatArray();
                assertEquals(torchs.length, ours.length, e.getKey());
                for (int i = 0; i < ours.length; i++) {
                    if (Float.isNaN(torchs[i])) {
                        assertTrue(Float.isNaN(ours[i]), e.getKey() + " pattern " + i + ": torch says nan, we say " + ours[i]);
                    } else {
                        assertEquals(Float.floatToIntBits(torchs[i]), Float.floatToIntBits(ours[i]),
                                e.getKey() + " pattern " + i + ": torch " + torchs[i] + ", ours " + ours[i]);
                    }
                }
                compared++;
            }
        }
        assertEquals(7, compared, "float16, bfloat16 and five float8 kinds");
    }
}
