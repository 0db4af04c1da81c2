package io.torchbridge.reader;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.testing.P;
import io.torchbridge.testing.Crafted;
import io.torchbridge.reader.scan.Scan;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A scan unpickles without building the value tree, where a view past its storage is refused
 * under its name; the scan must still see the refusal, as torch does when its rebuild calls
 * {@code set_} on the storage.
 */
class ScanRefusedViewTest {
    @TempDir
    Path dir;

    @Test
    void aViewPastItsStorageIsNotSomethingTorchLoads() throws Exception {
        byte[] pkl = P.proto(2).emptyDict().mark().str("w")
                .tensorV2("FloatStorage", "0", 6, 1, new long[] {2, 3}, new long[] {3, 1}).setitems().stop().bytes();
        Path f = Crafted.checkpoint(pkl).storage("0", new byte[24]).write(dir, "x.pt");
        Scan.Report r = Scan.scan(f);
        assertFalse(r.readsByDefault());
        assertTrue(r.error().contains("tensor 'w'"), r.error());
        assertFalse(r.torchWouldLoad(), "torch refuses a view past its storage");
    }
}
