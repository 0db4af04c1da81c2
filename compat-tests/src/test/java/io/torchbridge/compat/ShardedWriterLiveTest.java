package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.torchbridge.reader.Checkpoint;
import io.torchbridge.writer.ShardedWriter;
import io.torchbridge.writer.WriteOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ShardedWriter against huggingface_hub 1.23 itself: for a few state_dicts, huggingface_hub's
 * save_torch_state_dict writes a folder of each kind; ours, given the same tensors (read from a
 * torch.save of the state_dict), the same max_shard_size text and metadata, writes the same file
 * names with the same bytes (the index json and the safetensors shards byte for byte; the .bin
 * shards too, the digits of torch.save's serialization_id aside), and huggingface_hub loads ours
 * back with equal values (safetensors: the tied names it left out map to a kept tensor).
 */
class ShardedWriterLiveTest {
    @TempDir
    Path tmp;

    private static final String MAKE = String.join("\n",
            "import sys, os, json, torch",
            "from huggingface_hub import save_torch_state_dict",
            "out = sys.argv[1]",
            "g = torch.Generator().manual_seed(3)",
            "mlp = {'embed.weight': torch.randn(16, 8, generator=g), 'l0.weight': torch.randn(8, 8, generator=g),",
            "       'l0.bias': torch.randn(8, generator=g), 'l1.weight': torch.randn(8, 8, generator=g).half(),",
            "       'big': torch.arange(700, dtype=torch.float32), 'n': torch.tensor(3), 'head': torch.randn(4, 8, generator=g).double()}",
            "e = torch.randn(40, 8, generator=g)",
            "tied = {'embed.weight': e, 'block.weight': torch.randn(8, 8, generator=g), 'lm_head.weight': e,",
            "        'proj': e.t(), 'row': e[3], 'bias': torch.zeros(8), 'other': torch.randn(30, 8, generator=g)}",
            "odd = {'z0': torch.zeros(0), 'mask': torch.tensor([True, False]), 'z1': torch.zeros(0, 3, dtype=torch.int64),",
            "       'na\\u00efve.\\u03b2': torch.ones(5, dtype=torch.int16), 'q\"uote\\\\': torch.arange(6, dtype=torch.int8),",
            "       'bf': torch.arange(4.0).bfloat16(), 'c': torch.arange(10, dtype=torch.int32)}",
            // huggingface_hub cannot save e.t() beside e as safetensors (_end_ptr views it as 1-D): not in that case
            "tied_st = {k: v for k, v in tied.items() if k != 'proj'}",
            "cases = {'mlp': (mlp, '1KB', {'note': 'r\\u00e9sum\\u00e9', 'total_size': '0'}, ('bin', 'st')),",
            "         'tied': (tied, '0.6kb', None, ('bin',)), 'tied-st': (tied_st, '0.6kb', None, ('st',)),",
            "         'one': (mlp, '5GB', None, ('bin', 'st')), 'odd': (odd, 12, {'x': 'y'}, ('bin', 'st'))}",
            "for name, (sd, size, md, kinds) in cases.items():",
            "    d = os.path.join(out, name)",
            "    torch.save(sd, os.path.join(d + '.pt'))",
            "    for kind in kinds:",
            "        os.makedirs(os.path.join(d, 'hf-' + kind))",
            "        os.makedirs(os.path.join(d, 'java-' + kind))",
            "        save_torch_state_dict(dict(sd), os.path.join(d, 'hf-' + kind), max_shard_size=size,",
            "                              safe_serialization=kind == 'st', metadata=None if md is None else dict(md))",
            "    with open(os.path.join(d, 'case.json'), 'w') as f:",
            "        json.dump({'max_shard_size': str(size), 'metadata': md or {}, 'kinds': kinds}, f)");

    /** huggingface_hub's own loading of our folder: each shard by load_state_dict_from_file, against the state_dict. */
    private static final String CHECK = String.join("\n",
            "import sys, os, json, torch",
            "from huggingface_hub import load_state_dict_from_file",
            "d, kind = sys.argv[1], sys.argv[2]",
            "sd = torch.load(d + '.pt', weights_only=True)",
            "folder = os.path.join(d, 'java-' + kind)",
            "idx = [f for f in os.listdir(folder) if f.endswith('.index.json')]",
            "files = sorted(set(json.load(open(os.path.join(folder, idx[0])))['weight_map'].values())) if idx else os.listdir(folder)",
            "got = {}",
            "for f in files:",
            "    got.update(load_state_dict_from_file(os.path.join(folder, f), weights_only=True))",
            // safetensors shards leave out tied names: the metadata maps each to the name kept
            "meta = json.load(open(os.path.join(folder, idx[0])))['metadata'] if idx else {}",
            "if kind == 'st' and not idx:",
            "    from safetensors import safe_open",
            "    meta = safe_open(os.path.join(folder, files[0]), 'pt').metadata()",
            "for k, v in sd.items():",
            "    g = got[k] if k in got else got[meta[k]] if kind == 'st' and k not in got and meta.get(k) in got else None",
            "    assert g is not None, ('missing', k, sorted(got))",
            "    if k in got or v.shape == g.shape:",
            "        assert g.dtype == v.dtype and g.shape == v.shape and torch.equal(g, v), k",
            "assert all(k in sd for k in got), sorted(got)",
            "print('equal', len(got))");

    @Test
    void ourFoldersAreHuggingFaceHubsFolders() throws Exception {
        TorchMatrix.Torch torch = TorchMatrix.require("2.14.1");
        torch.run(300, "-c", MAKE, tmp.toString());
        int cases = 0;
        try (Stream<Path> s = Files.list(tmp)) {
            for (Path d : s.filter(Files::isDirectory).sorted().toList()) {
                cases++;
                JsonNode c = new ObjectMapper().readTree(d.resolve("case.json").toFile());
                Map<String, String> metadata = new LinkedHashMap<>();
                for (Iterator<Map.Entry<String, JsonNode>> it = c.get("metadata").fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = it.next();
                    metadata.put(e.getKey(), e.getValue().asText());
                }
                long max = ShardedWriter.parseSize(c.get("max_shard_size").asText());
                for (JsonNode k : c.get("kinds")) {
                    String kind = k.asText();
                    try (Checkpoint sd = Checkpoint.open(Path.of(d + ".pt"))) {
                        ShardedWriter.save(sd.tensors(), d.resolve("java-" + kind), max, kind.equals("st")
                                ? ShardedWriter.Kind.SAFETENSORS : ShardedWriter.Kind.TORCH, metadata,
                                WriteOptions.defaults());
                    }
                    assertSameFolder(d.resolve("hf-" + kind), d.resolve("java-" + kind));
                    String said = torch.run(300, "-c", CHECK, d.toString(), kind);
                    assertTrue(said.contains("equal"), said);
                }
            }
        }
        assertEquals(5, cases);
        // the cases really split: mlp in 3 shards (big alone) and an index; one in a single file
        assertEquals(4, fileNames(tmp.resolve("mlp").resolve("hf-bin")).size());
        assertEquals(4, fileNames(tmp.resolve("mlp").resolve("hf-st")).size());
        assertEquals(List.of("pytorch_model.bin"), fileNames(tmp.resolve("one").resolve("hf-bin")));
        assertEquals(List.of("model.safetensors"), fileNames(tmp.resolve("one").resolve("hf-st")));
    }

    private static List<String> fileNames(Path folder) throws Exception {
        try (Stream<Path> s = Files.list(folder)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    static void assertSameFolder(Path theirs, Path ours) throws Exception {
        List<String> names = fileNames(theirs);
        assertEquals(names, fileNames(ours), "file names");
        List<String> differ = new ArrayList<>();
        for (String n : names) {
            byte[] want = Files.readAllBytes(theirs.resolve(n));
            byte[] got = Files.readAllBytes(ours.resolve(n));
            if (n.endsWith(".bin")) {
                ConvertByteIdentityTest.maskSerializationId(want);
                ConvertByteIdentityTest.maskSerializationId(got);
            }
            if (!java.util.Arrays.equals(want, got)) {
                differ.add(n + (n.endsWith(".json") ? ":\n" + new String(want) + "\n---\n" + new String(got) : ""));
            }
        }
        assertTrue(differ.isEmpty(), theirs + " and " + ours + " differ in " + differ);
    }
}
