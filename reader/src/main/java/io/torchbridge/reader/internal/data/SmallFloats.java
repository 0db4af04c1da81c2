package io.torchbridge.reader.internal.data;

/**
 * Decoding of the float formats narrower than float32 to float (exact: every value of these
 * formats is a float32 value). Bit layouts as in c10/util/Half.h, BFloat16.h and Float8_*.h.
 */
public final class SmallFloats {
    private SmallFloats() {
    }

    /** IEEE binary16. */
    public static float half(int bits) {
        return ieee(bits & 0xFFFF, 5, 10, 15, true);
    }

    /** bfloat16: the high half of a float32. */
    public static float bfloat16(int bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** float8_e5m2: IEEE-like, with infinities and NaNs. */
    public static float e5m2(int bits) {
        return ieee(bits & 0xFF, 5, 2, 15, true);
    }

    /** float8_e4m3fn: no infinities; only S.1111.111 is NaN. */
    public static float e4m3fn(int bits) {
        int b = bits & 0xFF;
        if ((b & 0x7F) == 0x7F) {
            return Float.NaN;
        }
        return ieee(b, 4, 3, 7, false);
    }

    /** float8_e4m3fnuz: bias 8, no infinities, no negative zero; 0x80 is NaN. */
    public static float e4m3fnuz(int bits) {
        int b = bits & 0xFF;
        return b == 0x80 ? Float.NaN : ieee(b, 4, 3, 8, false);
    }

    /** float8_e5m2fnuz: bias 16, no infinities, no negative zero; 0x80 is NaN. */
    public static float e5m2fnuz(int bits) {
        int b = bits & 0xFF;
        return b == 0x80 ? Float.NaN : ieee(b, 5, 2, 16, false);
    }

    /** float8_e8m0fnu: an unsigned power of two, 2^(bits - 127); 0xFF is NaN. */
    public static float e8m0fnu(int bits) {
        int b = bits & 0xFF;
        if (b == 0xFF) {
            return Float.NaN;
        }
        // 2^-127 is a float32 subnormal; Math.scalb is exact here.
        return Math.scalb(1.0f, b - 127);
    }

    /** A sign/exponent/mantissa format; the all-ones exponent is inf/NaN only if {@code ieeeSpecials}. */
    private static float ieee(int bits, int expBits, int manBits, int bias, boolean ieeeSpecials) {
        int sign = (bits >>> (expBits + manBits)) & 1;
        int exp = (bits >>> manBits) & ((1 << expBits) - 1);
        int man = bits & ((1 << manBits) - 1);
        float value;
        if (exp == 0) {
            value = Math.scalb((float) man, 1 - bias - manBits);
        } else if (ieeeSpecials && exp == (1 << expBits) - 1) {
            value = man == 0 ? Float.POSITIVE_INFINITY : Float.NaN;
        } else {
            value = Math.scalb((float) (man | (1 << manBits)), exp - bias - manBits);
        }
        return sign == 1 ? -value : value;
    }
}
