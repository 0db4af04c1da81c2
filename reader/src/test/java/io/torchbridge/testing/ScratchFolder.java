package io.torchbridge.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * A temporary folder for tests that cannot take JUnit's {@code @TempDir} (jqwik properties): made
 * at once, deleted with everything in it when the JVM exits.
 */
public final class ScratchFolder {
    private ScratchFolder() {
    }

    /** A new empty folder named {@code prefix...} in the system's temporary folder. */
    public static Path create(String prefix) {
        try {
            Path dir = Files.createTempDirectory(prefix);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> delete(dir), "delete " + dir));
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void delete(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // best effort at exit: the system's temporary folder is cleaned eventually anyway
        }
    }
}
