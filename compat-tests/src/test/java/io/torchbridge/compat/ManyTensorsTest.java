package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.torchbridge.testing.ChildProcess;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 9's bar for scale: a checkpoint of 200,000 storages written by torch 2.14 is opened,
 * listed, hashed and copied whole by a JVM with a 256 MiB heap, with a bounded number of mappings
 * of the file (Linux allows about 65k per process, and one mapping per storage crashed the JVM),
 * and close unmaps them unless a view handed out still points into them.
 */
class ManyTensorsTest {
    private static final int TENSORS = 200_000;
    /** MappedFile's window step: at most one mapping per step of file. */
    private static final long STEP = 512L << 20;

    /**
     * Writes {argv[2]} tensors of 3 random values in a few dtypes, one storage each, and prints the
     * sha256 over every name, a zero byte and the tensor's bytes (bfloat16 through int16, which
     * numpy has), in the state dict's order.
     */
    private static final String WRITE = String.join("\n",
            "import hashlib, os, sys, torch",
            "path, n = sys.argv[1], int(sys.argv[2])",
            "g = torch.Generator().manual_seed(9)",
            "dtypes = [torch.float32, torch.float16, torch.bfloat16, torch.int64, torch.float64, torch.uint8]",
            "sd = {}",
            "for i in range(n):",
            "    sd[f'layer{i}.w'] = (torch.randn(3, generator=g) * 100).to(dtypes[i % len(dtypes)])",
            "torch.save(sd, path + '.tmp')",
            "os.replace(path + '.tmp', path)",
            "h = hashlib.sha256()",
            "for k, t in sd.items():",
            "    h.update(k.encode()); h.update(b'\\0')",
            "    t = t.contiguous()",
            "    h.update((t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes())",
            "print('sha256=' + h.hexdigest())");

    @TempDir
    Path tmp;

    @Test
    void twoHundredThousandStoragesReadWithA256MiBHeapAndBoundedMappings() throws Exception {
        assumeTrue(Files.isReadable(Path.of("/proc/self/maps")),
                "no /proc/self/maps: counting mappings needs Linux");
        TorchMatrix.Torch torch = TorchMatrix.require("2.14.1");
        Path[] file = cached(torch);
        String expected = Files.readString(file[1], StandardCharsets.US_ASCII).trim();

        String java = ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        List<String> cmd = List.of(java, "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                ManyTensorsChild.class.getName(), file[0].toString());
        ChildProcess.Result r = ChildProcess.run(cmd, null, Duration.ofSeconds(120));
        assertEquals(0, r.exitCode(), "the child failed:\n" + r.output());
        Map<String, String> got = new HashMap<>();
        for (String line : r.output().split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                got.put(line.substring(0, eq), line.substring(eq + 1).trim());
            }
        }
        System.out.println("ManyTensorsTest child: " + got);
        assertEquals(String.valueOf(TENSORS), got.get("tensors"));
        assertEquals(expected, got.get("streamed"), "sha256 of the streamed bytes");
        assertEquals(expected, got.get("copied"), "sha256 of the copies");

        long bound = (Files.size(file[0]) + STEP - 1) / STEP + 1;
        long open = Long.parseLong(got.get("maps.open"));
        assertTrue(open >= 1 && open <= bound, open + " mappings of the file while open, bound " + bound);
        assertEquals("0", got.get("maps.closed"), "mappings left after close without views handed out");
        assertEquals("refused", got.get("after.close"));
        assertEquals("same", got.get("view.after.close"));
        long kept = Long.parseLong(got.get("maps.closed.view"));
        assertTrue(kept >= 1 && kept <= bound, kept + " mappings kept for a view after close, bound " + bound);
    }

    /**
     * The checkpoint and its digest file, written once per script text into the torch cache (or,
     * where that cannot be written, this test's scratch folder) so that reruns skip torch.
     */
    private Path[] cached(TorchMatrix.Torch torch) throws IOException, InterruptedException {
        String key;
        try {
            key = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest((WRITE + TENSORS).getBytes(StandardCharsets.UTF_8))).substring(0, 16);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
        Path dir = TorchMatrix.cache().resolve("generated");
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            dir = tmp;
        }
        if (!Files.isWritable(dir)) {
            dir = tmp;
        }
        Path ckpt = dir.resolve("many-tensors-" + key + ".pt");
        Path digest = dir.resolve("many-tensors-" + key + ".sha256");
        if (Files.isRegularFile(ckpt) && Files.isRegularFile(digest)) {
            return new Path[] {ckpt, digest};
        }
        // torch 2.14 runs in a chroot that sees /tmp: write there, then move into the cache.
        Path out = tmp.resolve("many.pt");
        String said = torch.run(300, "-c", WRITE, out.toString(), Integer.toString(TENSORS));
        String line = said.lines().filter(l -> l.startsWith("sha256=")).findFirst()
                .orElseThrow(() -> new AssertionError("torch printed no digest:\n" + said));
        Files.writeString(tmp.resolve("many.sha256"), line.substring("sha256=".length()) + "\n");
        Files.move(out, ckpt, StandardCopyOption.REPLACE_EXISTING);
        Files.move(tmp.resolve("many.sha256"), digest, StandardCopyOption.REPLACE_EXISTING);
        return new Path[] {ckpt, digest};
    }
}
