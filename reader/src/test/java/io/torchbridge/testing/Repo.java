package io.torchbridge.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * The repository and its fixtures/ folder, from a test running in any module directory: the
 * {@code torchbridge.repo} system property (set by the build) or the nearest folder above the
 * working directory that holds fixtures/.
 */
public final class Repo {
    /** The torch versions with committed fixtures, one folder {@code fixtures/torch-<version>} each. */
    public static final List<String> TORCH_VERSIONS = List.of("1.13.1", "2.6.0", "2.14.1");

    private Repo() {
    }

    /** The repository root: the folder that holds fixtures/. */
    public static Path root() {
        String prop = System.getProperty("torchbridge.repo");
        Path p = prop != null ? Path.of(prop) : Path.of("").toAbsolutePath();
        while (p != null && !Files.isDirectory(p.resolve("fixtures"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("cannot find the repository root (no fixtures/ above "
                    + (prop != null ? prop : Path.of("").toAbsolutePath()) + ")");
        }
        return p;
    }

    /** The fixtures/ folder. */
    public static Path fixtures() {
        return root().resolve("fixtures");
    }

    /** {@code fixtures/torch-<torchVersion>}: what that torch wrote. */
    public static Path torchFolder(String torchVersion) {
        return fixtures().resolve("torch-" + torchVersion);
    }

    /** {@code fixtures/torch-<torchVersion>/<file>}. */
    public static Path fixture(String torchVersion, String file) {
        return torchFolder(torchVersion).resolve(file);
    }

    /** Every checkpoint ({@code *.pt}) that {@code torchVersion} wrote, sorted by name. */
    public static List<Path> checkpoints(String torchVersion) throws IOException {
        try (Stream<Path> s = Files.list(torchFolder(torchVersion))) {
            return s.filter(p -> p.toString().endsWith(".pt")).sorted().toList();
        }
    }

    /** Every checkpoint of every {@code fixtures/torch-*} folder, sorted by path. */
    /** The TorchScript archives real torch wrote (fixtures/torchscript-VERSION/), every version, sorted. */
    public static List<Path> torchScriptArchives() throws IOException {
        List<Path> out = new java.util.ArrayList<>();
        for (String v : TORCH_VERSIONS) {
            try (Stream<Path> files = Files.list(fixtures().resolve("torchscript-" + v))) {
                files.filter(p -> p.toString().endsWith(".pt")).sorted().forEach(out::add);
            }
        }
        return List.copyOf(out);
    }

    public static List<Path> allCheckpoints() throws IOException {
        try (Stream<Path> s = Files.list(fixtures())) {
            List<Path> folders = s.filter(p -> Files.isDirectory(p) && p.getFileName().toString().startsWith("torch-"))
                    .sorted().toList();
            List<Path> out = new java.util.ArrayList<>();
            for (Path folder : folders) {
                try (Stream<Path> files = Files.list(folder)) {
                    files.filter(p -> p.toString().endsWith(".pt")).sorted().forEach(out::add);
                }
            }
            return List.copyOf(out);
        }
    }
}
