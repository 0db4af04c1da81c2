package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.fasterxml.jackson.databind.JsonNode;
import io.torchbridge.testing.Repo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Quantized, sparse and nested tensors read as real torch lists them: the committed fixtures of
 * {@code fixtures/qsparse-<version>/}, and the same set written afresh by each torch in this run.
 */
class QSparseFixtureTest {
    @TempDir
    Path tmp;

    @TestFactory
    Stream<DynamicNode> committedFixturesMatchTheirManifests() {
        return Repo.TORCH_VERSIONS.stream().map(v -> {
            Path dir = Repo.fixtures().resolve("qsparse-" + v);
            List<Path> manifests = FixtureTest.manifests(dir);
            assertFalse(manifests.isEmpty(), "no fixtures in " + dir);
            return DynamicContainer.dynamicContainer("torch " + v, manifests.stream().map(mf ->
                    DynamicTest.dynamicTest(mf.getFileName().toString(), () -> {
                        JsonNode m = QSparseCheck.read(mf);
                        assertEquals(v, m.get("torch").asText(), mf + " torch version");
                        QSparseCheck.check(m, mf.resolveSibling(m.get("file").asText()));
                    })));
        });
    }

    @TestFactory
    Stream<DynamicNode> freshFilesFromEachTorchReadAsTorchListsThem() {
        return Repo.TORCH_VERSIONS.stream().map(v -> DynamicTest.dynamicTest("torch " + v, () -> {
            TorchMatrix.Torch torch = TorchMatrix.require(v);
            Path out = tmp.resolve("qsparse-" + v);
            Files.createDirectories(out);
            torch.run(600, Repo.fixtures().resolve("qsparse.py").toString(), "generate", out.toString());
            List<Path> manifests = FixtureTest.manifests(out);
            assertFalse(manifests.isEmpty(), "qsparse.py wrote nothing for torch " + v);
            for (Path mf : manifests) {
                JsonNode m = QSparseCheck.read(mf);
                QSparseCheck.check(m, mf.resolveSibling(m.get("file").asText()));
            }
        }));
    }
}
