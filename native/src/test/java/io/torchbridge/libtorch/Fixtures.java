package io.torchbridge.libtorch;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.pytorch.Tensor;

/** The committed real-PyTorch fixtures, and libtorch values as bytes to compare with the reader's. */
final class Fixtures {
    static final List<String> VERSIONS = List.of("1.13.1", "2.6.0", "2.14.1");

    private Fixtures() {
    }

    static Path root() {
        String prop = System.getProperty("torchbridge.repo");
        Path p = prop != null ? Path.of(prop) : Path.of("").toAbsolutePath();
        while (p != null && !Files.isDirectory(p.resolve("fixtures"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("no fixtures/ above " + Path.of("").toAbsolutePath());
        }
        return p.resolve("fixtures");
    }

    static Path file(String version, String name) {
        return root().resolve("torch-" + version).resolve(name + ".pt");
    }

    static List<Path> all(String version) throws IOException {
        try (Stream<Path> s = Files.list(root().resolve("torch-" + version))) {
            return s.filter(p -> p.toString().endsWith(".pt")).sorted().collect(Collectors.toList());
        }
    }

    /** The values of a float32 libtorch tensor, row-major. */
    static float[] floats(Tensor t) {
        java.nio.FloatBuffer f = java.nio.ByteBuffer.wrap(logicalBytes(t)).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                .asFloatBuffer();
        float[] out = new float[f.remaining()];
        f.get(out);
        return out;
    }

    /** The logical values of {@code t}: row-major, conj/neg resolved, little-endian, from the CPU. */
    static byte[] logicalBytes(Tensor t) {
        try (Tensor r = t.resolve_conj(); Tensor n = r.resolve_neg(); Tensor cpu = n.cpu(); Tensor c = cpu.contiguous()) {
            byte[] out = new byte[Math.toIntExact(c.nbytes())];
            if (out.length > 0) {
                try (BytePointer p = new BytePointer(c.data_ptr())) {
                    p.capacity(out.length).get(out);
                }
            }
            return out;
        }
    }
}
