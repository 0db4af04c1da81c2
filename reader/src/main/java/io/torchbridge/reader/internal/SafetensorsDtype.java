package io.torchbridge.reader.internal;

import io.torchbridge.reader.DType;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The element types of the safetensors format by their header codes, in the order of the Rust
 * crate's {@code Dtype} enum ({@code safetensors/src/tensor.rs}): its serializer sorts tensors by
 * that order, descending, then by name, so {@link #ordinal()} is part of the file layout. The
 * writer and the reader share this one table.
 */
public enum SafetensorsDtype {
    BOOL(DType.BOOL, 8),
    /** Two 4-bit floats per byte; torch calls the pair {@code float4_e2m1fn_x2} and counts it as one element. */
    F4(DType.FLOAT4_E2M1FN_X2, 4),
    /** No torch dtype: refused by name. */
    F6_E2M3(null, 6),
    /** No torch dtype: refused by name. */
    F6_E3M2(null, 6),
    U8(DType.UINT8, 8),
    I8(DType.INT8, 8),
    F8_E5M2(DType.FLOAT8_E5M2, 8),
    F8_E4M3(DType.FLOAT8_E4M3FN, 8),
    F8_E8M0(DType.FLOAT8_E8M0FNU, 8),
    F8_E4M3FNUZ(DType.FLOAT8_E4M3FNUZ, 8),
    F8_E5M2FNUZ(DType.FLOAT8_E5M2FNUZ, 8),
    I16(DType.INT16, 16),
    U16(DType.UINT16, 16),
    F16(DType.FLOAT16, 16),
    BF16(DType.BFLOAT16, 16),
    I32(DType.INT32, 32),
    U32(DType.UINT32, 32),
    F32(DType.FLOAT32, 32),
    C64(DType.COMPLEX64, 64),
    F64(DType.FLOAT64, 64),
    I64(DType.INT64, 64),
    U64(DType.UINT64, 64);

    private static final Map<String, SafetensorsDtype> BY_CODE = new HashMap<>();
    private static final Map<DType, SafetensorsDtype> BY_DTYPE = new HashMap<>();

    static {
        for (SafetensorsDtype d : values()) {
            BY_CODE.put(d.name(), d);
            if (d.dtype != null) {
                BY_DTYPE.put(d.dtype, d);
            }
        }
    }

    private final DType dtype;
    private final int bits;

    SafetensorsDtype(DType dtype, int bits) {
        this.dtype = dtype;
        this.bits = bits;
    }

    /** The header's code: {@code F32}, {@code BF16}, {@code F8_E4M3}. */
    public String code() {
        return name();
    }

    /** The torch dtype it is read as, or null where torch has none (the F6 types). */
    public DType dtype() {
        return dtype;
    }

    /** Bits per element as the format counts them (an F4 element is half a byte). */
    public int bits() {
        return bits;
    }

    /** The code in a header, if the format defines it. */
    public static Optional<SafetensorsDtype> byCode(String code) {
        return Optional.ofNullable(BY_CODE.get(code));
    }

    /** The code a torch dtype is written as, if safetensors has one (not complex128, complex32, quantized). */
    public static Optional<SafetensorsDtype> of(DType dtype) {
        return Optional.ofNullable(BY_DTYPE.get(dtype));
    }
}
