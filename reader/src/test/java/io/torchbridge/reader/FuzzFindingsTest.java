package io.torchbridge.reader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.reader.CheckpointException.Kind;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each input the fuzzer found (ReaderFuzzTestInputs, replayed by {@link ReaderFuzzTest} too) as its
 * own test of what the reader must answer: the error kind and where, not only "no crash".
 */
class FuzzFindingsTest {
    @TempDir
    Path dir;

    private CheckpointException refuse(String finding) throws IOException {
        Path f = dir.resolve(finding + ".pt");
        try (InputStream in = getClass().getResourceAsStream("ReaderFuzzTestInputs/checkpointFile/" + finding)) {
            assertNotNull(in, finding);
            Files.copy(in, f);
        }
        return assertThrows(CheckpointException.class, () -> Checkpoint.open(f).close());
    }

    @Test
    void zstdRecordIsUnsupported() throws IOException {
        // A fixture whose 'version' record claims zip method 20 (zstd): Commons Compress reached
        // for its optional zstd-jni and threw NoClassDefFoundError. Only stored and deflated
        // records are read.
        CheckpointException e = refuse("crash-bd2e6f62ca930f6a93026ddb237ca4edf3f2cec4");
        assertEquals(Kind.UNSUPPORTED, e.kind());
        assertEquals("version", e.record().orElseThrow());
        assertTrue(e.getMessage().contains("compression method 20"), e.getMessage());
    }
}
