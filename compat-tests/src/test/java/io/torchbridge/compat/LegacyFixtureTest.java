package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.Format;
import io.torchbridge.reader.ReadOptions;
import io.torchbridge.testing.Repo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * The legacy formats against real PyTorch: the legacy stream that torch 1.13, 2.6 and 2.14 write
 * with {@code _use_new_zipfile_serialization=False} (every pickle protocol 1..5; committed under
 * fixtures/legacy-VERSION and written afresh in this run), and the files built to torch's readers'
 * rules (the legacy tar, the stream with pre-1.0 storage views), which torch 2.14 reads in this run. Each reads exactly as the manifest torch
 * wrote says (names, order, dtypes, shapes, strides, storages, sha256 of the values, the tree).
 */
class LegacyFixtureTest {
    @TempDir
    Path tmp;

    static Path legacyFolder(String version) {
        return Repo.fixtures().resolve("legacy-" + version);
    }

    @TestFactory
    Stream<DynamicNode> everyCommittedLegacyFixtureMatchesItsManifest() {
        return Repo.TORCH_VERSIONS.stream().map(v -> {
            List<Path> manifests = FixtureTest.manifests(legacyFolder(v));
            return DynamicContainer.dynamicContainer("torch " + v, Stream.concat(
                    Stream.of(DynamicTest.dynamicTest("every protocol 1-5", () -> {
                        for (int p = 1; p <= 5; p++) {
                            Manifest m = Manifest.read(legacyFolder(v).resolve("state_dict_p" + p + ".manifest.json"));
                            assertEquals(p, m.json().get("pickle_protocol").asInt(), m.file().toString());
                        }
                    })),
                    manifests.stream().map(mf -> DynamicTest.dynamicTest(mf.getFileName().toString()
                            .replace(".manifest.json", ""), mf.toUri(), () -> {
                                Manifest m = Manifest.read(mf);
                                assertEquals(v, m.torch(), mf + " was written by torch " + m.torch());
                                assertEquals("legacy", m.json().get("format").asText());
                                ManifestCheck.check(m);
                            }))));
        });
    }

    @TestFactory
    Stream<DynamicNode> freshLegacyFilesFromEachTorchReadAsTorchListsThem() {
        return Repo.TORCH_VERSIONS.stream().map(v -> DynamicTest.dynamicTest("torch " + v, () -> {
            TorchMatrix.Torch torch = TorchMatrix.require(v);
            Path out = Files.createDirectories(tmp.resolve("legacy-" + v));
            torch.run(600, Repo.fixtures().resolve("generate_legacy.py").toString(), out.toString());
            List<Path> manifests = FixtureTest.manifests(out);
            assertTrue(manifests.size() >= 14, "generate_legacy.py wrote " + manifests.size() + " manifests");
            for (Path mf : manifests) {
                ManifestCheck.check(Manifest.read(mf));
            }
        }));
    }

    @Test
    void aGlobalTorchRefusesIsDisallowedNotUnsupported() throws Exception {
        for (String v : Repo.TORCH_VERSIONS) {
            Path f = legacyFolder(v).resolve("refused_namespace_p2.pth");
            CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(f));
            assertEquals(CheckpointException.Kind.DISALLOWED_GLOBAL, e.kind(), e.getMessage());
            assertTrue(e.getMessage().contains("argparse.Namespace"), e.getMessage());
            try (Checkpoint c = Checkpoint.open(f, ReadOptions.builder().allowGlobal("argparse", "Namespace").build())) {
                assertEquals(Format.LEGACY, c.format());
                assertEquals(List.of("w"), c.names());
            }
        }
    }

    @Test
    void theBuiltFixturesReadAsTorchReadsThem() throws Exception {
        // legacy_tar.pt: the tar of torch < 0.1.10; legacy_storage_views.pt: the stream with the
        // storage views (view_metadata) of torch < 1.0. No torch today writes either.
        Path dir = Repo.fixtures().resolve("legacy-built");
        List<Path> manifests = FixtureTest.manifests(dir);
        assertEquals(2, manifests.size(), manifests.toString());
        for (Path mf : manifests) {
            ManifestCheck.check(Manifest.read(mf));
        }
        Manifest tar = Manifest.read(dir.resolve("legacy_tar.manifest.json"));
        assertEquals("tar", tar.json().get("format").asText());
        try (Checkpoint c = Checkpoint.open(tar.file())) {
            assertEquals(List.of("sys_info", "pickle", "tensors", "storages"), c.records());
        }
        // torch 2.14 loads both (the tar with weights_only=False: it refuses the format otherwise)
        // and their manifests, recomputed now, are the committed ones the reader was checked against.
        String out = TorchMatrix.require("2.14.1").run(300, Repo.fixtures().resolve("tbmanifest.py").toString(),
                "--check", dir.toString());
        assertTrue(out.contains("legacy-built: 2 files") && out.contains(": ok"), out);
        assertFalse(out.contains("FAIL"), out);
    }

    /** The fixture sets this test covers, for other tests (convert, scan). */
    static List<Path> allLegacyManifests() {
        List<Path> out = new ArrayList<>();
        for (String v : Repo.TORCH_VERSIONS) {
            out.addAll(FixtureTest.manifests(legacyFolder(v)));
        }
        out.addAll(FixtureTest.manifests(Repo.fixtures().resolve("legacy-built")));
        return out;
    }
}
