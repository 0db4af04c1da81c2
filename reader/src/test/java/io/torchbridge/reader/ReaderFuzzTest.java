package io.torchbridge.reader;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.torchbridge.testing.Crafted;
import io.torchbridge.testing.Repo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Coverage-guided fuzzing (Jazzer) of the reader's entry points. In a normal test run each
 * target replays its seeds and every earlier finding (src/test/resources/.../ReaderFuzzTestInputs);
 * with {@code JAZZER_FUZZ=1} it fuzzes for its maxDuration (CI: a few minutes, see .ci/run). The
 * only exception allowed out of the reader is {@link CheckpointException}; anything else, a hang
 * or running out of memory is a finding, saved as a regression input named by its hash.
 */
class ReaderFuzzTest {
    private static final Path SCRATCH;
    private static final List<Map<String, byte[]>> TEMPLATES = new ArrayList<>();
    /** The TorchScript archives among the templates. */
    private static final List<Map<String, byte[]>> SCRIPTS = new ArrayList<>();

    static {
        try {
            Path shm = Path.of("/dev/shm");
            SCRATCH = Files.createTempDirectory(Files.isDirectory(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir")),
                    "tb-fuzz");
            SCRATCH.toFile().deleteOnExit();
            for (Path f : Repo.allCheckpoints()) {
                TEMPLATES.add(records(Files.readAllBytes(f)));
            }
            // after the torch.save fixtures, so that the earlier seeds keep their index
            for (Path f : Repo.torchScriptArchives()) {
                Map<String, byte[]> r = records(Files.readAllBytes(f));
                TEMPLATES.add(r);
                SCRIPTS.add(r);
            }
        } catch (IOException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Any bytes as a checkpoint file. Seeds: every fixture, and a sample of each other file kind (seed-kind-*). */
    @FuzzTest(maxDuration = "2m")
    void checkpointFile(byte[] data) throws IOException {
        Path f = SCRATCH.resolve("file-" + Thread.currentThread().getId() + ".pt");
        Files.write(f, data);
        readEverything(f);
    }

    /**
     * A pickle in the archive of a real fixture: the first byte picks the fixture whose storage
     * records surround it, the rest is data.pkl. Seeds: each fixture's own data.pkl.
     */
    @FuzzTest(maxDuration = "2m")
    void pickleRecord(byte[] data) throws IOException {
        if (data.length == 0) {
            return;
        }
        Map<String, byte[]> records = new LinkedHashMap<>(TEMPLATES.get((data[0] & 0xFF) % TEMPLATES.size()));
        records.put("data.pkl", java.util.Arrays.copyOfRange(data, 1, data.length));
        Path f = SCRATCH.resolve("pickle-" + Thread.currentThread().getId() + ".pt");
        Files.write(f, Crafted.zip("archive", records));
        readEverything(f);
    }

    /**
     * The code of a real TorchScript archive: the first byte picks the archive, the rest replaces
     * its first code record ({@code code/__torch__.py}, or the root's mangled file in a traced
     * one), whose class declarations say which attributes are parameters and buffers. Seeds: that
     * code of a few archives ({@code script-NNN}).
     */
    @FuzzTest(maxDuration = "2m")
    void torchScriptCode(byte[] data) throws IOException {
        if (data.length == 0) {
            return;
        }
        Map<String, byte[]> records = new LinkedHashMap<>(SCRIPTS.get((data[0] & 0xFF) % SCRIPTS.size()));
        records.put(firstCode(records), java.util.Arrays.copyOfRange(data, 1, data.length));
        Path f = SCRATCH.resolve("code-" + Thread.currentThread().getId() + ".pt");
        Files.write(f, Crafted.zip("archive", records));
        readEverything(f);
    }

    /**
     * A DCP {@code .metadata} pickle beside the real data files of fixtures/dcp/two_ranks.dcp (two
     * ranks, chunks in both files), the directory opened as one checkpoint. Seeds: that
     * metadata, and a few of fixtures/dcp-hostile ({@code dcp-*}).
     */
    @FuzzTest(maxDuration = "2m")
    void dcpMetadata(byte[] data) throws IOException {
        Path dir = SCRATCH.resolve("dcp-" + Thread.currentThread().getId() + ".dcp");
        if (!Files.isDirectory(dir)) {
            Files.createDirectories(dir);
            Path good = Repo.fixtures().resolve("dcp/two_ranks.dcp");
            Files.copy(good.resolve("__0_0.distcp"), dir.resolve("__0_0.distcp"));
            Files.copy(good.resolve("__1_0.distcp"), dir.resolve("__1_0.distcp"));
        }
        Files.write(dir.resolve(".metadata"), data);
        readEverything(dir);
    }

    /**
     * A Hugging Face shard index: the bytes are {@code model.bin.index.json} in a folder beside
     * the torch.save shards of fixtures/shards/pieces, and the folder is opened. Seeds: a valid
     * index over those shards and a few hostile ones ({@code shardIndex/}).
     */
    @FuzzTest(maxDuration = "2m")
    void shardIndex(byte[] data) throws IOException {
        Path dir = SCRATCH.resolve("shards-" + Thread.currentThread().getId());
        if (!Files.isDirectory(dir)) {
            Files.createDirectories(dir);
            for (String p : List.of("a.bin", "b.bin", "c.bin", "list.bin", "mixed.bin")) {
                Files.copy(Repo.fixtures().resolve("shards").resolve("pieces").resolve(p), dir.resolve(p));
            }
        }
        Files.write(dir.resolve("model.bin.index.json"), data);
        readEverything(dir);
    }

    private static String firstCode(Map<String, byte[]> records) {
        return records.keySet().stream().filter(n -> n.startsWith("code/") && n.endsWith(".py")).findFirst()
                .orElseThrow();
    }

    /** Opens, walks every value and streams every tensor; only CheckpointException may escape. */
    static void readEverything(Path f) {
        try (Checkpoint c = Checkpoint.open(f, ReadOptions.builder().maxPickleBytes(1 << 20).build())) {
            for (Tensor t : c.tensors().values()) {
                long[] sum = {0};
                t.stream(b -> {
                    while (b.hasRemaining()) {
                        sum[0] += b.get();
                    }
                });
                // sparse and nested components, and quantized values (checked at open, so safe to read)
                for (Tensor part : t.components().values()) {
                    part.stream(b -> sum[0] += b.remaining());
                }
                if (t.quantization().isPresent() && t.numel() < 1 << 20) {
                    t.toDequantizedFloatArray();
                }
            }
            c.value("");
            for (TensorEntry e : c.entries()) {
                c.paths(e.name()); // the key paths behind each name, as an ambiguous name's error shows them
            }
            c.unreadable();
        } catch (CheckpointException expected) {
            // a bad file, reported as it should be
        } catch (IOException e) {
            throw new AssertionError("an IOException that is not a CheckpointException", e);
        }
    }

    static Map<String, byte[]> records(byte[] zipBytes) throws IOException {
        Map<String, byte[]> out = new LinkedHashMap<>();
        // java.util.zip cannot stream PyTorch's STORED-with-descriptor records; Commons Compress can.
        Path tmp = Files.createTempFile("tb-template", ".pt");
        try {
            Files.write(tmp, zipBytes);
            try (org.apache.commons.compress.archivers.zip.ZipFile z =
                         org.apache.commons.compress.archivers.zip.ZipFile.builder().setPath(tmp).get()) {
                var entries = z.getEntries();
                while (entries.hasMoreElements()) {
                    var e = entries.nextElement();
                    String name = e.getName().substring(e.getName().indexOf('/') + 1);
                    try (var in = z.getInputStream(e)) {
                        out.put(name, in.readAllBytes());
                    }
                }
            }
        } finally {
            Files.delete(tmp);
        }
        return out;
    }

    /** Writes the pickleRecord seeds: one per fixture, its index then its data.pkl. Run once by hand. */
    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args[0]);
        Files.createDirectories(dir);
        for (int i = 0; i < TEMPLATES.size() && i < 256; i++) {
            byte[] pkl = TEMPLATES.get(i).get("data.pkl");
            byte[] seed = new byte[pkl.length + 1];
            seed[0] = (byte) i;
            System.arraycopy(pkl, 0, seed, 1, pkl.length);
            Files.write(dir.resolve(String.format("fixture-%03d", i)), seed);
        }
        // TorchScript: seeds for pickleRecord (data.pkl of a few archives) and torchScriptCode
        Path code = dir.resolveSibling("torchScriptCode");
        Files.createDirectories(code);
        int first = TEMPLATES.size() - SCRIPTS.size();
        for (int k = 0; k < SCRIPTS.size(); k += 7) {
            int i = first + k;
            if (i < 256) {
                byte[] pkl = SCRIPTS.get(k).get("data.pkl");
                byte[] seed = new byte[pkl.length + 1];
                seed[0] = (byte) i;
                System.arraycopy(pkl, 0, seed, 1, pkl.length);
                Files.write(dir.resolve(String.format("script-%03d", i)), seed);
            }
            byte[] src = SCRIPTS.get(k).get(firstCode(SCRIPTS.get(k)));
            byte[] seed = new byte[src.length + 1];
            seed[0] = (byte) k;
            System.arraycopy(src, 0, seed, 1, src.length);
            Files.write(code.resolve(String.format("script-%03d", k)), seed);
        }
    }
}
