package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.torchbridge.cli.Main;
import io.torchbridge.testing.Repo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code convert} of every quantized, sparse and nested fixture (torch 1.13, 2.6 and 2.14) writes a
 * file that torch 2.14 loads with {@code weights_only=True} to the same tensors the source's
 * manifest lists (layout, dtype, shape, qparams, dequantized values, int_repr / dense sha256,
 * components); for files torch 2.14 wrote, the bytes are torch's (serialization id aside).
 */
class QSparseRoundTripTest {
    @TempDir
    Path tmp;

    @TestFactory
    Stream<DynamicTest> convertLoadsInTorch214WithEqualValues() {
        List<Path> manifests = new ArrayList<>();
        for (String v : Repo.TORCH_VERSIONS) {
            manifests.addAll(FixtureTest.manifests(Repo.fixtures().resolve("qsparse-" + v)));
        }
        assertTrue(manifests.size() >= 10, "qsparse fixtures: " + manifests);
        return manifests.stream().map(mf -> DynamicTest.dynamicTest(mf.getParent().getFileName() + "/"
                + mf.getFileName(), () -> {
            JsonNode source = QSparseCheck.read(mf);
            Path in = mf.resolveSibling(source.get("file").asText());
            Path out = Files.createDirectories(tmp.resolve(mf.getParent().getFileName().toString()))
                    .resolve(in.getFileName());
            List<String> args = new ArrayList<>(List.of("convert"));
            if (source.get("torch").asText().startsWith("1.")) {
                args.addAll(List.of("--allow-global", "torch._utils._rebuild_sparse_csr_tensor"));
            }
            args.addAll(List.of(in.toString(), out.toString()));
            assertEquals(0, Main.run(args.toArray(String[]::new)), "convert " + in);
            TorchMatrix.Torch torch = TorchMatrix.require("2.14.1");
            JsonNode loaded = QSparseCheck.MAPPER.readTree(torch.run(300,
                    Repo.fixtures().resolve("qsparse.py").toString(), "manifest", out.toString()));
            assertTrue(loaded.get("weights_only").asBoolean(), out + ": torch 2.14 refused it with weights_only=True");
            assertEquals(source.get("tensors"), loaded.get("tensors"), out + ": what torch 2.14 loads");
            if (source.get("torch").asText().equals("2.14.1")) {
                byte[] want = Files.readAllBytes(in);
                byte[] got = Files.readAllBytes(out);
                ConvertByteIdentityTest.maskSerializationId(want);
                ConvertByteIdentityTest.maskSerializationId(got);
                assertArrayEquals(want, got, in + ": convert gives torch.save's bytes (serialization id aside)");
            }
        }));
    }
}
