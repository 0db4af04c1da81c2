package io.torchbridge.compat;

import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * The child JVM of {@link ManyTensorsTest}, started with a small heap: opens a checkpoint, lists
 * it, hashes every tensor's logical bytes and copies every tensor, and reports on stdout, one
 * {@code key=value} a line, the digests and how many mappings of the file /proc/self/maps lists
 * while open, after close, and after a close with a view from {@code data()} still held.
 */
public final class ManyTensorsChild {
    private ManyTensorsChild() {
    }

    public static void main(String[] args) throws Exception {
        Path file = Path.of(args[0]).toRealPath();
        MessageDigest streamed = MessageDigest.getInstance("SHA-256");
        MessageDigest copied = MessageDigest.getInstance("SHA-256");
        Checkpoint ckpt = Checkpoint.open(file);
        List<String> names = ckpt.names();
        Tensor first = ckpt.tensor(names.get(0));
        for (Map.Entry<String, Tensor> e : ckpt.tensors().entrySet()) {
            byte[] name = e.getKey().getBytes(StandardCharsets.UTF_8);
            streamed.update(name);
            streamed.update((byte) 0);
            e.getValue().stream(streamed::update);
            copied.update(name);
            copied.update((byte) 0);
            copied.update(e.getValue().toByteArray());
        }
        System.out.println("tensors=" + names.size());
        System.out.println("streamed=" + HexFormat.of().formatHex(streamed.digest()));
        System.out.println("copied=" + HexFormat.of().formatHex(copied.digest()));
        System.out.println("maps.open=" + mappings(file));
        byte[] firstBytes = first.toByteArray();
        ckpt.close();
        System.out.println("maps.closed=" + mappings(file));
        try {
            first.toByteArray();
            System.out.println("after.close=read");
        } catch (IllegalStateException e) {
            System.out.println("after.close=" + (e.getMessage().contains("is closed") ? "refused" : e.getMessage()));
        }
        // The heap bound is for one checkpoint at a time: let the first one's tree go before the second open.
        ckpt = null;
        first = null;

        // Again, with a zero-copy view handed out before close: its window stays mapped and readable.
        try (Checkpoint again = Checkpoint.open(file)) {
            ByteBuffer view = again.tensor(names.get(0)).data();
            again.close();
            byte[] b = new byte[view.remaining()];
            view.duplicate().get(b);
            System.out.println("view.after.close=" + (java.util.Arrays.equals(b, firstBytes) ? "same" : "differs"));
            System.out.println("maps.closed.view=" + mappings(file));
            System.out.println("view.alive=" + view.capacity()); // keeps the view reachable up to here
        }
        System.out.println("heap.max=" + Runtime.getRuntime().maxMemory());
    }

    /** The mappings of {@code file} in this process. */
    private static long mappings(Path file) throws IOException {
        String suffix = " " + file;
        return Files.readAllLines(Path.of("/proc/self/maps")).stream().filter(l -> l.endsWith(suffix)).count();
    }
}
