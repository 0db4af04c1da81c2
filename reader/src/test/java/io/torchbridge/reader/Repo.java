package io.torchbridge.reader;

import java.nio.file.Files;
import java.nio.file.Path;

/** The repository's fixtures/, from a test running in any module directory. */
final class Repo {
    private Repo() {
    }

    static Path fixture(String torchVersion, String file) {
        String prop = System.getProperty("torchbridge.repo");
        Path p = prop != null ? Path.of(prop) : Path.of("").toAbsolutePath();
        while (p != null && !Files.isDirectory(p.resolve("fixtures"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("no fixtures/ above " + Path.of("").toAbsolutePath());
        }
        return p.resolve("fixtures").resolve("torch-" + torchVersion).resolve(file);
    }
}
