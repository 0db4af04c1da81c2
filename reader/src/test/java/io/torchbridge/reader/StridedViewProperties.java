package io.torchbridge.reader;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.torchbridge.testing.Crafted;
import io.torchbridge.testing.P;
import io.torchbridge.testing.RandomView;
import io.torchbridge.testing.ScratchFolder;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/**
 * Random views (shape, stride including 0, storage offset) of a random storage, in every dtype
 * size: the copied logical values equal a naive element-by-element gather, and the neg bit
 * negates what it should. The expectation is plain index arithmetic in the test.
 */
class StridedViewProperties {
    private static final Path dir = ScratchFolder.create("strided-props");

    private static final String[] TYPES = {"CharStorage", "ShortStorage", "FloatStorage", "DoubleStorage", "ComplexDoubleStorage"};
    private static final int[] SIZES = {1, 2, 4, 8, 16};

    @Property(tries = 400)
    void viewsCopyAsANaiveGather(@ForAll @IntRange(min = 0, max = 4) int typeIndex,
                                 @ForAll @IntRange(min = 0, max = 4) int rank, @ForAll long seed) throws Exception {
        Random r = new Random(seed);
        int item = SIZES[typeIndex];
        RandomView v = RandomView.of(r, rank, 12, 7);
        long[] shape = v.shape();
        long[] stride = v.stride();
        long offset = v.offset();
        long extent = 1;
        long numel = 1;
        for (int i = 0; i < rank; i++) {
            numel *= shape[i];
            extent += Math.max(0, shape[i] - 1) * stride[i];
        }
        long storageElems = offset + extent + r.nextInt(3);
        byte[] storage = new byte[(int) storageElems * item];
        r.nextBytes(storage);

        byte[] pkl = P.proto(2).tensorV2(TYPES[typeIndex], "0", storageElems, offset, shape, stride).stop().bytes();
        Path f = Crafted.checkpoint(pkl).storage("0", storage).write(dir, "v" + System.nanoTime() + ".pt");
        try (Checkpoint c = Checkpoint.open(f)) {
            assertArrayEquals(gather(storage, item, shape, stride, offset, numel), c.root() instanceof Tensor t
                    ? t.toByteArray() : null);
        }
    }

    private static byte[] gather(byte[] storage, int item, long[] shape, long[] stride, long offset, long numel) {
        byte[] out = new byte[(int) numel * item];
        long[] idx = new long[shape.length];
        for (int n = 0; n < numel; n++) {
            long e = offset;
            for (int d = 0; d < shape.length; d++) {
                e += idx[d] * stride[d];
            }
            System.arraycopy(storage, (int) e * item, out, n * item, item);
            for (int d = shape.length - 1; d >= 0; d--) {
                if (++idx[d] < shape[d]) {
                    break;
                }
                idx[d] = 0;
            }
        }
        return out;
    }

    @Property(tries = 100)
    void negBitNegatesIntsAndFloats(@ForAll long seed) throws Exception {
        Random r = new Random(seed);
        int n = 1 + r.nextInt(20);
        ByteBuffer ints = ByteBuffer.allocate(n * 8).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer floats = ByteBuffer.allocate(n * 4).order(ByteOrder.LITTLE_ENDIAN);
        long[] li = new long[n];
        float[] fl = new float[n];
        for (int i = 0; i < n; i++) {
            li[i] = r.nextLong();
            fl[i] = (float) r.nextGaussian();
            ints.putLong(li[i]);
            floats.putFloat(fl[i]);
        }
        // {'i': neg view of int64, 'f': neg view of float32}: _rebuild_tensor_v2(..., {'neg': True})
        P p = P.proto(2).emptyDict().mark();
        p.str("i");
        negView(p, "LongStorage", "0", n);
        p.str("f");
        negView(p, "FloatStorage", "1", n);
        byte[] pkl = p.setitems().stop().bytes();
        Path f = Crafted.checkpoint(pkl).storage("0", ints.array()).storage("1", floats.array())
                .write(dir, "neg" + System.nanoTime() + ".pt");
        try (Checkpoint c = Checkpoint.open(f)) {
            long[] gotI = c.tensor("i").toLongArray();
            float[] gotF = c.tensor("f").toFloatArray();
            for (int i = 0; i < n; i++) {
                org.junit.jupiter.api.Assertions.assertEquals(-li[i], gotI[i]);
                org.junit.jupiter.api.Assertions.assertEquals(-fl[i], gotF[i]);
            }
        }
    }

    private static void negView(P p, String type, String key, long n) {
        p.global("torch._utils", "_rebuild_tensor_v2").mark().storage(type, key, n).integer(0)
                .mark().integer(n).tuple().mark().integer(1).tuple().op(0x89)
                .global("collections", "OrderedDict").emptyTuple().reduce()
                .emptyDict().str("neg").op(0x88).op('s')
                .tuple().reduce();
    }
}
