package io.torchbridge.libtorch.internal;

import io.torchbridge.reader.DType;
import java.util.EnumMap;
import java.util.Map;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** The reader's {@link DType}s and libtorch's {@code c10::ScalarType}s, both ways. */
public final class ScalarTypes {
    private static final Map<DType, ScalarType> TO_TORCH = new EnumMap<>(DType.class);
    private static final Map<ScalarType, DType> FROM_TORCH = new EnumMap<>(ScalarType.class);

    static {
        put(DType.FLOAT64, ScalarType.Double);
        put(DType.FLOAT32, ScalarType.Float);
        put(DType.FLOAT16, ScalarType.Half);
        put(DType.BFLOAT16, ScalarType.BFloat16);
        put(DType.INT64, ScalarType.Long);
        put(DType.INT32, ScalarType.Int);
        put(DType.INT16, ScalarType.Short);
        put(DType.INT8, ScalarType.Char);
        put(DType.UINT8, ScalarType.Byte);
        put(DType.UINT16, ScalarType.UInt16);
        put(DType.UINT32, ScalarType.UInt32);
        put(DType.UINT64, ScalarType.UInt64);
        put(DType.BOOL, ScalarType.Bool);
        put(DType.COMPLEX128, ScalarType.ComplexDouble);
        put(DType.COMPLEX64, ScalarType.ComplexFloat);
        put(DType.COMPLEX32, ScalarType.ComplexHalf);
        put(DType.FLOAT8_E4M3FN, ScalarType.Float8_e4m3fn);
        put(DType.FLOAT8_E5M2, ScalarType.Float8_e5m2);
        put(DType.FLOAT8_E4M3FNUZ, ScalarType.Float8_e4m3fnuz);
        put(DType.FLOAT8_E5M2FNUZ, ScalarType.Float8_e5m2fnuz);
        put(DType.FLOAT8_E8M0FNU, ScalarType.Float8_e8m0fnu);
        put(DType.FLOAT4_E2M1FN_X2, ScalarType.Float4_e2m1fn_x2);
        // Quantized dtypes are left out on purpose: a quantized tensor needs its scale and zero
        // point, which the reader keeps as an inert object, not as a Tensor.
    }

    private ScalarTypes() {
    }

    private static void put(DType d, ScalarType s) {
        TO_TORCH.put(d, s);
        FROM_TORCH.put(s, d);
    }

    /** libtorch's type for {@code dtype}. */
    public static ScalarType of(DType dtype) {
        ScalarType s = TO_TORCH.get(dtype);
        if (s == null) {
            throw new IllegalArgumentException("libtorch tensors of dtype " + dtype + " are not supported here"
                    + (dtype.family() == DType.Family.QUANTIZED ? " (quantized tensors need their quantizer)" : ""));
        }
        return s;
    }

    /** The reader's dtype for libtorch's {@code type}. */
    public static DType of(ScalarType type) {
        // A ScalarType that comes back from native code is a fresh enum object carrying only its
        // value (ordinal 0), so it is interned before any EnumMap lookup or == comparison.
        DType d = FROM_TORCH.get(type.intern());
        if (d == null) {
            throw new IllegalArgumentException("libtorch dtype " + type + " has no checkpoint dtype here");
        }
        return d;
    }
}
