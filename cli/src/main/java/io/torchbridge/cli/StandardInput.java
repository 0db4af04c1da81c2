package io.torchbridge.cli;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The file argument {@code -}: standard input, copied once to a temporary file (deleted on
 * {@link #close()}), because the reader maps a file and detects its kind from its content.
 */
final class StandardInput implements AutoCloseable {
    /** What reports call it. */
    static final String LABEL = "(standard input)";

    private Path copy;

    /** {@code arg} itself, or for {@code -} the copy of standard input (made on first use). */
    Path resolve(Path arg) throws IOException {
        if (!arg.toString().equals("-")) {
            return arg;
        }
        if (copy == null) {
            copy = Files.createTempFile("torchbridge-stdin-", ".bin");
            try (InputStream in = System.in) {
                Files.copy(in, copy, StandardCopyOption.REPLACE_EXISTING);
            }
        }
        return copy;
    }

    /** How to name {@code arg} in output. */
    static String label(Path arg) {
        return arg.toString().equals("-") ? LABEL : arg.toString();
    }

    @Override
    public void close() throws IOException {
        if (copy != null) {
            Files.deleteIfExists(copy);
        }
    }
}
