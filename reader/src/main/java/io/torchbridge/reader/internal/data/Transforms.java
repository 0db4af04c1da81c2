package io.torchbridge.reader.internal.data;

import io.torchbridge.reader.DType;
import java.nio.ByteBuffer;

/**
 * Rewrites whole elements in place: big- to little-endian, then the neg and conj bits. Negation
 * of floats flips the sign bit (IEEE negation, as PyTorch's CPU kernels do); the "fnuz" float8
 * kinds have no negative zero, so their zero stays zero.
 */
final class Transforms {
    private Transforms() {
    }

    static void apply(Layout layout, ByteBuffer buf) {
        if (!layout.transforms()) {
            return;
        }
        DType dtype = layout.dtype();
        int item = dtype.itemSize();
        boolean complex = dtype.family() == DType.Family.COMPLEX;
        int part = complex ? item / 2 : item;
        int start = buf.position();
        int end = buf.limit();
        for (int p = start; p < end; p += item) {
            if (layout.swap()) {
                if (complex) {
                    swap(buf, p, part);
                    swap(buf, p + part, part);
                } else {
                    swap(buf, p, item);
                }
            }
            if (complex) {
                if (layout.neg()) {
                    flipSign(buf, p, part);
                }
                if (layout.neg() != layout.conj()) {
                    flipSign(buf, p + part, part);
                }
            } else if (layout.neg()) {
                negate(dtype, buf, p);
            }
        }
    }

    private static void swap(ByteBuffer b, int p, int n) {
        for (int i = 0, j = n - 1; i < j; i++, j--) {
            byte t = b.get(p + i);
            b.put(p + i, b.get(p + j));
            b.put(p + j, t);
        }
    }

    private static void flipSign(ByteBuffer b, int p, int n) {
        b.put(p + n - 1, (byte) (b.get(p + n - 1) ^ 0x80));
    }

    private static void negate(DType dtype, ByteBuffer b, int p) {
        switch (dtype.family()) {
            case FLOAT -> {
                if (dtype == DType.FLOAT8_E4M3FNUZ || dtype == DType.FLOAT8_E5M2FNUZ) {
                    if (b.get(p) != 0) {
                        flipSign(b, p, 1);
                    }
                } else {
                    flipSign(b, p, dtype.itemSize());
                }
            }
            case SIGNED, UNSIGNED -> {
                switch (dtype.itemSize()) {
                    case 1 -> b.put(p, (byte) -b.get(p));
                    case 2 -> b.putShort(p, (short) -b.getShort(p));
                    case 4 -> b.putInt(p, -b.getInt(p));
                    default -> b.putLong(p, -b.getLong(p));
                }
            }
            default -> {
                // bool and packed/quantized kinds have no negative view in PyTorch.
            }
        }
    }
}
