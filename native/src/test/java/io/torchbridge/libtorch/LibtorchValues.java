package io.torchbridge.libtorch;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.pytorch.Tensor;

/** libtorch values as bytes, to compare with the reader's ({@code Tensor.toByteArray()}). */
final class LibtorchValues {
    private LibtorchValues() {
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
