package io.torchbridge.reader.diff;

import io.torchbridge.reader.DType;
import io.torchbridge.reader.internal.data.SmallFloats;

/**
 * Element-wise comparison of two tensors' logical bytes (row-major, little-endian) in the wider
 * of their types: integers exactly as integers, anything with a float as float64 (every float
 * dtype widens to it exactly), anything with a complex as complex128. Two elements match by
 * {@code torch.isclose(a, b, rtol, atol, equal_nan=True)}: equal (infinities of one sign too), both
 * NaN, or {@code |a - b| <= atol + rtol * |b|}. Counts the mismatches and keeps the largest
 * {@code |a - b|} over the elements that are not equal (NaN where a NaN meets a number).
 */
final class Elements {
    private enum Mode { INT, FLOAT, COMPLEX }

    private final DType da;
    private final DType db;
    private final int ia;
    private final int ib;
    private final Mode mode;
    private final double atol;
    private final double rtol;
    long mismatched;
    double maxAbsDiff;

    Elements(DType da, DType db, double atol, double rtol) {
        this.da = da;
        this.db = db;
        this.ia = width(da);
        this.ib = width(db);
        this.atol = atol;
        this.rtol = rtol;
        Mode ma = mode(da);
        Mode mb = mode(db);
        this.mode = ma == Mode.COMPLEX || mb == Mode.COMPLEX ? Mode.COMPLEX
                : ma == Mode.FLOAT || mb == Mode.FLOAT ? Mode.FLOAT : Mode.INT;
    }

    /** Whether two tensors of these dtypes have comparable elements (packed ones only with their own kind). */
    static boolean comparable(DType a, DType b) {
        return packed(a) == packed(b) && (!packed(a) || a == b);
    }

    /** Elements compared for a tensor of {@code numel} elements: packed dtypes compare their bytes. */
    static long count(DType d, long numel) {
        return packed(d) ? d.bytesFor(numel) : numel;
    }

    /** Bytes per compared element. */
    static int width(DType d) {
        return packed(d) ? 1 : d.itemSize();
    }

    private static boolean packed(DType d) {
        return d.elementsPerByte() > 1 || d == DType.FLOAT4_E2M1FN_X2;
    }

    private static Mode mode(DType d) {
        if (packed(d)) {
            return Mode.INT;
        }
        return switch (d.family()) {
            case FLOAT -> Mode.FLOAT;
            case COMPLEX -> Mode.COMPLEX;
            default -> Mode.INT;
        };
    }

    /** Compares {@code n} elements of {@code a} from byte {@code offA} with those of {@code b} from {@code offB}. */
    void compare(byte[] a, int offA, byte[] b, int offB, int n) {
        if (da == db) {
            // Equal bytes are equal values whatever the dtype; only differing elements are decoded
            // (NaN payloads and -0.0 differ in bytes but may still match).
            int at = 0;
            while (at < n) {
                int m = java.util.Arrays.mismatch(a, offA + at * ia, offA + n * ia, b, offB + at * ib, offB + n * ib);
                if (m < 0) {
                    return;
                }
                int e = at + m / ia;
                one(a, offA + e * ia, b, offB + e * ib);
                at = e + 1;
            }
            return;
        }
        for (int e = 0; e < n; e++) {
            one(a, offA + e * ia, b, offB + e * ib);
        }
    }

    private void one(byte[] a, int pa, byte[] b, int pb) {
        switch (mode) {
            case INT -> ints(a, pa, b, pb);
            case FLOAT -> reals(real(da, a, pa), real(db, b, pb));
            case COMPLEX -> complexes(a, pa, b, pb);
        }
    }

    private void ints(byte[] a, int pa, byte[] b, int pb) {
        long x = integer(da, a, pa);
        long y = integer(db, b, pb);
        boolean ux = da == DType.UINT64 && x < 0; // above Long.MAX_VALUE
        boolean uy = db == DType.UINT64 && y < 0;
        if (x == y && ux == uy) {
            return;
        }
        double diff;
        if (!ux && !uy) {
            long d = x - y;
            // no overflow when the signs agree; otherwise exact in double up to rounding
            diff = ((x ^ y) >= 0 || (x ^ d) >= 0) ? Math.abs((double) d) : Math.abs((double) x - (double) y);
        } else {
            diff = Math.abs(unsigned(x, ux) - unsigned(y, uy));
        }
        note(diff, diff <= atol + rtol * Math.abs(unsigned(y, uy)));
    }

    private static double unsigned(long v, boolean high) {
        return high ? (double) (v >>> 1) * 2.0 + (v & 1) : (double) v;
    }

    private void reals(double x, double y) {
        if (x == y || (Double.isNaN(x) && Double.isNaN(y))) {
            return;
        }
        double diff = Math.abs(x - y); // NaN where one is NaN; infinite where an infinity meets a number
        boolean close = !Double.isNaN(diff) && !Double.isInfinite(x) && !Double.isInfinite(y)
                && diff <= atol + rtol * Math.abs(y);
        note(diff, close);
    }

    private void complexes(byte[] a, int pa, byte[] b, int pb) {
        double xr = part(da, a, pa, 0);
        double xi = part(da, a, pa, 1);
        double yr = part(db, b, pb, 0);
        double yi = part(db, b, pb, 1);
        boolean nx = Double.isNaN(xr) || Double.isNaN(xi);
        boolean ny = Double.isNaN(yr) || Double.isNaN(yi);
        if ((xr == yr && xi == yi) || (nx && ny)) {
            return;
        }
        double diff = nx || ny ? Double.NaN : Math.hypot(xr - yr, xi - yi);
        boolean inf = Double.isInfinite(xr) || Double.isInfinite(xi) || Double.isInfinite(yr) || Double.isInfinite(yi);
        note(diff, !Double.isNaN(diff) && !inf && diff <= atol + rtol * Math.hypot(yr, yi));
    }

    private void note(double diff, boolean close) {
        if (!close) {
            mismatched++;
        }
        maxAbsDiff = Double.isNaN(maxAbsDiff) || Double.isNaN(diff) ? Double.NaN : Math.max(maxAbsDiff, diff);
    }

    /** The real part (k = 0) or imaginary part (k = 1) of a complex element, or a real element as complex. */
    private static double part(DType d, byte[] buf, int p, int k) {
        return switch (d) {
            case COMPLEX128 -> Double.longBitsToDouble(le(buf, p + 8 * k, 8));
            case COMPLEX64 -> Float.intBitsToFloat((int) le(buf, p + 4 * k, 4));
            case COMPLEX32 -> SmallFloats.half((int) le(buf, p + 2 * k, 2));
            default -> k == 0 ? (mode(d) == Mode.FLOAT ? real(d, buf, p) : (double) integer(d, buf, p)) : 0.0;
        };
    }

    /** A real element as a double: floats exactly, integers as the nearest double. */
    private static double real(DType d, byte[] buf, int p) {
        return switch (d) {
            case FLOAT64 -> Double.longBitsToDouble(le(buf, p, 8));
            case FLOAT32 -> Float.intBitsToFloat((int) le(buf, p, 4));
            case FLOAT16 -> SmallFloats.half((int) le(buf, p, 2));
            case BFLOAT16 -> SmallFloats.bfloat16((int) le(buf, p, 2));
            case FLOAT8_E4M3FN -> SmallFloats.e4m3fn(buf[p] & 0xFF);
            case FLOAT8_E5M2 -> SmallFloats.e5m2(buf[p] & 0xFF);
            case FLOAT8_E4M3FNUZ -> SmallFloats.e4m3fnuz(buf[p] & 0xFF);
            case FLOAT8_E5M2FNUZ -> SmallFloats.e5m2fnuz(buf[p] & 0xFF);
            case FLOAT8_E8M0FNU -> SmallFloats.e8m0fnu(buf[p] & 0xFF);
            case UINT64 -> unsigned(le(buf, p, 8), le(buf, p, 8) < 0);
            default -> (double) integer(d, buf, p);
        };
    }

    /** An integer element (bool as 0/1, a quantized one's integer, a packed byte unsigned); uint64 as its bits. */
    private static long integer(DType d, byte[] buf, int p) {
        if (packed(d)) {
            return buf[p] & 0xFF;
        }
        return switch (d) {
            case INT64, UINT64 -> le(buf, p, 8);
            case INT32, QINT32 -> (int) le(buf, p, 4);
            case UINT32 -> le(buf, p, 4);
            case INT16 -> (short) le(buf, p, 2);
            case UINT16 -> le(buf, p, 2);
            case INT8, QINT8 -> buf[p];
            default -> buf[p] & 0xFF; // uint8, bool, quint8
        };
    }

    private static long le(byte[] b, int p, int n) {
        long v = 0;
        for (int i = n - 1; i >= 0; i--) {
            v = v << 8 | (b[p + i] & 0xFF);
        }
        return v;
    }
}
