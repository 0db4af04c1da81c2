package io.torchbridge.compat;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the repository (and its fixtures/) is, for tests run from any module directory. */
final class Repo {
    private Repo() {
    }

    static Path root() {
        String prop = System.getProperty("torchbridge.repo");
        Path p = prop != null ? Path.of(prop) : Path.of("").toAbsolutePath();
        while (p != null && !Files.isDirectory(p.resolve("fixtures"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("cannot find the repository root (no fixtures/ above "
                    + Path.of("").toAbsolutePath() + ")");
        }
        return p;
    }

    static Path fixtures() {
        return root().resolve("fixtures");
    }
}
