package io.torchbridge.writer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.reader.Checkpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where a save lands: long names, the replaced file's permissions, symbolic links. */
class SaveTargetTest {
    @TempDir
    Path dir;

    private static Map<String, Object> content(float v) {
        return Map.of("w", NewTensor.of(new float[] {v, v + 1}, 2));
    }

    private static float first(Path p) throws Exception {
        try (Checkpoint c = Checkpoint.open(p)) {
            return c.tensor("w").toFloatArray()[0];
        }
    }

    @Test
    void aNameNearTheFileSystemLimitSaves() throws Exception {
        Path target = dir.resolve("m".repeat(250) + ".pt");
        CheckpointWriter.save(content(1), target);
        assertEquals(1f, first(target));
        try (Checkpoint c = Checkpoint.open(target)) {
            assertEquals("m".repeat(250), c.archiveName());
        }
    }

    @Test
    void replacingAPrivateFileKeepsItPrivate() throws Exception {
        Path target = dir.resolve("secret.pt");
        CheckpointWriter.save(content(1), target);
        Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rw-------"));
        CheckpointWriter.save(content(2), target);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(target)));
        assertEquals(2f, first(target));
    }

    @Test
    void aSymbolicLinkIsWrittenThroughAsTorchSaveDoes() throws Exception {
        Path real = Files.createDirectories(dir.resolve("store")).resolve("model.pt");
        CheckpointWriter.save(content(1), real);
        Path link = Files.createSymbolicLink(dir.resolve("latest.pt"), real);
        CheckpointWriter.save(content(5), link);
        assertTrue(Files.isSymbolicLink(link));
        assertEquals(5f, first(real));
        byte[] viaLink = Files.readAllBytes(link);
        assertArrayEquals(Files.readAllBytes(real), viaLink);
    }
}
