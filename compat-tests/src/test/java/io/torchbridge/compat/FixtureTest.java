package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.testing.Repo;
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

    /** Every fixture set: one per torch version, plus sets saved on a GPU (torch-X-cuda). */
    static List<String> sets() {
        try (Stream<Path> s = Files.list(Repo.fixtures())) {
            List<String> sets = s.filter(Files::isDirectory).map(p -> p.getFileName().toString())
                    .filter(n -> n.startsWith("torch-")).map(n -> n.substring("torch-".length())).sorted().toList();
            assertTrue(sets.containsAll(Repo.TORCH_VERSIONS), "fixture sets " + sets);
            return sets;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @TestFactory
    Stream<DynamicNode> everyFixtureMatchesItsManifest() {
        return sets().stream().map(v -> {
            Path dir = Repo.torchFolder(v);
            List<Path> manifests = manifests(dir);
            assertFalse(manifests.isEmpty(), "no fixtures in " + dir);
            return DynamicContainer.dynamicContainer("torch " + v, manifests.stream().map(mf ->
                    DynamicTest.dynamicTest(mf.getFileName().toString().replace(".manifest.json", ""), mf.toUri(), () -> {
                        Manifest m = Manifest.read(mf);
                        assertTrue(v.equals(m.torch()) || v.equals(m.torch() + "-cuda"),
                                mf + " was written by torch " + m.torch());
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
