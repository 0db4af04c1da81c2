package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.torchbridge.reader.ReadOptions;
import io.torchbridge.testing.Repo;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fresh random checkpoints, written by real torch in this very run with a new seed, read
 * identically. The seed is printed so a failure can be replayed with -Dtorchbridge.seed=N.
 */
class LiveTorchTest {
    static final int COUNT = Integer.getInteger("torchbridge.liveCount", 60);

    /**
     * The random checkpoints hold Python bytes, which protocol 2 pickles through builtins.bytes,
     * a global PyTorch's weights_only loader refuses (pytorch#133163); the reader refuses it by
     * default too, so these files are read with it admitted.
     */
    static final ReadOptions BYTES_ADMITTED = ReadOptions.builder().allowGlobal("builtins", "bytes").build();

    @TempDir
    Path tmp;

    @TestFactory
    Stream<DynamicNode> freshRandomCheckpointsReadIdentically() {
        long seed = Long.getLong("torchbridge.seed", System.nanoTime() % 1_000_000_000L);
        System.out.println("LiveTorchTest seed " + seed + " (replay with -Dtorchbridge.seed=" + seed + ")");
        return Repo.TORCH_VERSIONS.stream().map(v -> DynamicTest.dynamicTest("torch " + v + " seed " + seed, () -> {
            TorchMatrix.Torch torch = TorchMatrix.require(v);
            Path out = tmp.resolve("torch-" + v);
            java.nio.file.Files.createDirectories(out);
            torch.run(600, Repo.fixtures().resolve("random_checkpoints.py").toString(), Long.toString(seed),
                    Integer.toString(COUNT), out.toString());
            List<Path> manifests = FixtureTest.manifests(out);
            assertEquals(COUNT, manifests.size(), "random_checkpoints.py wrote " + manifests.size() + " files");
            for (Path mf : manifests) {
                ManifestCheck.check(Manifest.read(mf), BYTES_ADMITTED);
            }
        }));
    }
}
