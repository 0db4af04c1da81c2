package io.torchbridge.reader;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.testing.Repo;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Reading torch.distributed.checkpoint directories that torch 2.14 wrote (fixtures/dcp, made by
 * generate_dcp.py): every tensor and value as torch's own dcp_to_torch_save gives them. The
 * expected names, dtypes, shapes and sha256 are copied from the manifests torch wrote
 * ({@code fixtures/dcp/*.manifest.json}); compat-tests' DcpFixtureTest walks the manifests whole
 * and checks against live torch.
 */
class DcpTest {
    static Path dir(String name) {
        return Repo.fixtures().resolve("dcp").resolve(name);
    }

    private static final Map<String, String> ONE_RANK = new LinkedHashMap<>();
    private static final Map<String, String> TWO_RANKS = new LinkedHashMap<>();

    static {
        String[] one = {
            "model.fc.weight", "float32:[4, 3]:5a16709c8ed42032f564bfa73d0ec6b5187d4e822029de1ce96571bab87618fe",
            "model.fc.bias", "float64:[4]:39e286663c91429a0c60e690e3556931974ca1b21a64ae78be3a6a0f4e323eee",
            "model.emb.weight", "bfloat16:[5, 2]:a78d577a922de3cc09a4e82ddafd9ac0be55633b1cb71127e156a1665d474704",
            "model.half", "float16:[2, 2]:f9026c9b417eb6a893f1f1454b3f190493ee646d4f7151ef3ce39cb301e9300f",
            "model.ids", "int64:[2, 3]:f190072c5052f4f440d4a607c25f5bced487c420806c9aab4ca5b0653e72da61",
            "model.mask", "bool:[3]:85f90dfea1d8027e1463e5ca971a250110a20df0119d204a74220bc63516d15b",
            "model.small", "int8:[3]:1d74e51dc95ab2f595cecb72fbb5522e89997027058b107101de73143f17a16b",
            "model.scalar", "float32:[]:072e3304b03423a4767d28c5fed09f81d5190ff60a3d078c6c1350eeb8bee28b",
            "model.empty", "float32:[0, 3]:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "optimizer.state.0.step", "float32:[]:ea2845900b5856c9bf354b1aa9761b5aa6888e5ed61738fe9579ca42bc0f6054",
            "optimizer.state.0.exp_avg", "float32:[4, 3]:49d468a1b67eb895eb9668798db13464dee0042fa50b172536a28e5303eed0c2",
            "optimizer.state.1.step", "float32:[]:ea2845900b5856c9bf354b1aa9761b5aa6888e5ed61738fe9579ca42bc0f6054",
            "optimizer.state.1.exp_avg", "float32:[4]:4f6bea02f0640b757ade37659a21504da1093ee486a57f0c705b04da96c2553c",
        };
        String[] two = {
            "model.row", "float32:[4, 3]:d80863cc33b8d9b66e72d3cf75e2b94d37d42bb1d4196f1516ef8839784bf030",
            "model.col", "float32:[3, 4]:bd98b3d3b12de30abb7ade1b48f09880b7c078ac30ecf44a205ed843e45a7cde",
            "model.uneven", "int32:[5, 2]:10b4796eac59c7d81c33711f219ba227247a4e338adad078159ba01e87590841",
            "model.rep", "bfloat16:[3]:c4576f8a3312ddca5729222d4e1fb2b9f8eee264d34bcd8cfdc79ae73968eb77",
        };
        for (int i = 0; i < one.length; i += 2) {
            ONE_RANK.put(one[i], one[i + 1]);
        }
        for (int i = 0; i < two.length; i += 2) {
            TWO_RANKS.put(two[i], two[i + 1]);
        }
    }

    static String describe(Tensor t) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        t.stream(md::update);
        return t.dtype().pythonName() + ":" + java.util.Arrays.toString(t.shape().toArray()) + ":"
                + HexFormat.of().formatHex(md.digest());
    }

    private static Map<String, String> described(Checkpoint c) throws Exception {
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : c.tensors().entrySet()) {
            out.put(e.getKey(), describe(e.getValue()));
        }
        return out;
    }

    @Test
    void oneRankReadsAsDcpToTorchSaveGivesIt() throws Exception {
        try (Checkpoint c = Checkpoint.open(dir("one_rank.dcp"))) {
            assertEquals(Format.DCP, c.format());
            assertEquals(ONE_RANK, described(c));
            PyDict root = (PyDict) c.root();
            assertEquals(List.of("model", "optimizer", "epoch", "name", "extra", "shape", "steps"),
                    List.copyOf(root.items().keySet()));
            assertEquals(PyDict.DICT, root.pythonClass());
            assertEquals(7L, c.value("epoch"));
            assertEquals("run-11", c.value("name"));
            assertEquals(3L, c.value("extra.seed"));
            assertEquals("héllo", c.value("extra.note"));
            assertEquals(new PyTuple(List.of(2L, 3L)), c.value("shape"));
            assertEquals(List.of(1L, 2L, 3L), c.value("steps"));
            assertEquals(0.001, c.value("optimizer.param_groups.0.lr"));
            assertEquals(new PyTuple(List.of(0.9, 0.999)), c.value("optimizer.param_groups.0.betas"));
            assertEquals(List.of(0L, 1L), c.value("optimizer.param_groups.0.params"));
            assertEquals(List.of(".metadata", "__0_0.distcp"), c.records());
            // one chunk: the chunk's own storage, zero-copy
            Tensor w = c.tensor("model.fc.weight");
            assertEquals(48, w.data().remaining());
            assertTrue(w.data().isReadOnly());
        }
    }

    @Test
    void twoRanksReassembleChunksOfBothFiles() throws Exception {
        try (Checkpoint c = Checkpoint.open(dir("two_ranks.dcp"))) {
            assertEquals(TWO_RANKS, described(c));
            assertEquals(42L, c.value("step"));
            assertEquals(List.of(".metadata", "__0_0.distcp", "__1_0.distcp"), c.records());
            // Shard(0): row ranges one after another, zero-copy, one view per rank
            assertEquals(2, c.tensor("model.row").dataChunks().size());
            assertEquals(2, c.tensor("model.uneven").dataChunks().size());
            // Shard(1): rows interleave the chunks, so only gathering reads it
            Tensor col = c.tensor("model.col");
            assertThrows(IllegalStateException.class, col::dataChunks);
            assertThrows(IllegalStateException.class, col::data);
            ByteBuffer all = ByteBuffer.allocate((int) col.info().nbytes());
            col.copyTo(all);
            float[] f = col.toFloatArray();
            assertEquals(12, f.length);
            assertEquals(all.order(java.nio.ByteOrder.LITTLE_ENDIAN).getFloat(4 * 5), f[5]);
            assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, c.tensor("model.uneven").toIntArray());
        }
    }

    @Test
    void theMetadataFileOpensItsDirectory() throws Exception {
        try (Checkpoint c = Checkpoint.open(dir("two_ranks.dcp").resolve(".metadata"))) {
            assertEquals(TWO_RANKS, described(c));
        }
    }

    @Test
    void aDataFileAloneIsRefusedNamingItsDirectory() {
        for (String f : List.of("__0_0.distcp", "__1_0.distcp")) {
            CheckpointException e = assertThrows(CheckpointException.class,
                    () -> Checkpoint.open(dir("two_ranks.dcp").resolve(f)));
            assertEquals(CheckpointException.Kind.UNSUPPORTED, e.kind());
            assertTrue(e.getMessage().contains("open its directory"), e.getMessage());
            assertTrue(e.getMessage().contains("two_ranks.dcp"), e.getMessage());
        }
    }
}
