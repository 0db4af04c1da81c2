package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/** Every committed fixture of every torch version reads exactly as its PyTorch-written manifest says. */
class FixtureTest {
    static final List<String> VERSIONS = List.of("1.13.1", "2.6.0", "2.14.1");

    @TestFactory
    Stream<DynamicNode> everyFixtureMatchesItsManifest() throws IOException {
        return VERSIONS.stream().map(v -> {
            Path dir = Repo.fixtures().resolve("torch-" + v);
            List<Path> manifests = manifests(dir);
            assertFalse(manifests.isEmpty(), "no fixtures in " + dir);
            return DynamicContainer.dynamicContainer("torch " + v, manifests.stream().map(mf ->
                    DynamicTest.dynamicTest(mf.getFileName().toString().replace(".manifest.json", ""), mf.toUri(), () -> {
                        Manifest m = Manifest.read(mf);
                        assertTrue(m.torch().equals(v), mf + " was written by torch " + m.torch());
                        ManifestCheck.check(m);
                    })));
        });
    }

    static List<Path> manifests(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".manifest.json")).sorted().toList();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
