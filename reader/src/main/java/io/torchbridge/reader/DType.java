package io.torchbridge.reader;

import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Every element type PyTorch serializes, with PyTorch's names for it.
 *
 * <p>{@link #pythonName()} is what {@code str(torch.dtype)} prints without {@code torch.};
 * {@link #storageName()} is the legacy typed-storage class ({@code FloatStorage}) that
 * {@code _rebuild_tensor_v2} files use, or for the newer dtypes the name TorchScript's C++ pickler
 * gives the storage ({@code torch/csrc/jit/serialization/pickler.cpp}).
 */
public enum DType {
    /** {@code torch.float64} ({@code torch.double}): floating point, 8 bytes per element. */
    FLOAT64("float64", 8, "DoubleStorage", Family.FLOAT),
    /** {@code torch.float32} ({@code torch.float}): floating point, 4 bytes per element. */
    FLOAT32("float32", 4, "FloatStorage", Family.FLOAT),
    /** {@code torch.float16} ({@code torch.half}): floating point, 2 bytes per element. */
    FLOAT16("float16", 2, "HalfStorage", Family.FLOAT),
    /** {@code torch.bfloat16}: floating point, 2 bytes per element. */
    BFLOAT16("bfloat16", 2, "BFloat16Storage", Family.FLOAT),
    /** {@code torch.int64} ({@code torch.long}): signed integer, 8 bytes per element. */
    INT64("int64", 8, "LongStorage", Family.SIGNED),
    /** {@code torch.int32} ({@code torch.int}): signed integer, 4 bytes per element. */
    INT32("int32", 4, "IntStorage", Family.SIGNED),
    /** {@code torch.int16} ({@code torch.short}): signed integer, 2 bytes per element. */
    INT16("int16", 2, "ShortStorage", Family.SIGNED),
    /** {@code torch.int8}: signed integer, 1 byte per element. */
    INT8("int8", 1, "CharStorage", Family.SIGNED),
    /** {@code torch.uint8}: unsigned integer, 1 byte per element. */
    UINT8("uint8", 1, "ByteStorage", Family.UNSIGNED),
    /** {@code torch.uint16}: unsigned integer, 2 bytes per element. */
    UINT16("uint16", 2, "UInt16Storage", Family.UNSIGNED),
    /** {@code torch.uint32}: unsigned integer, 4 bytes per element. */
    UINT32("uint32", 4, "UInt32Storage", Family.UNSIGNED),
    /** {@code torch.uint64}: unsigned integer, 8 bytes per element. */
    UINT64("uint64", 8, "UInt64Storage", Family.UNSIGNED),
    /** {@code torch.bool}: boolean, 1 byte per element. */
    BOOL("bool", 1, "BoolStorage", Family.BOOL),
    /** {@code torch.complex128} ({@code torch.cdouble}): complex, real and imaginary parts, 16 bytes per element. */
    COMPLEX128("complex128", 16, "ComplexDoubleStorage", Family.COMPLEX),
    /** {@code torch.complex64} ({@code torch.cfloat}): complex, real and imaginary parts, 8 bytes per element. */
    COMPLEX64("complex64", 8, "ComplexFloatStorage", Family.COMPLEX),
    /** {@code torch.chalf}; two float16 halves. */
    COMPLEX32("complex32", 4, "ComplexHalfStorage", Family.COMPLEX),
    /** {@code torch.float8_e4m3fn}: floating point, 1 byte per element. */
    FLOAT8_E4M3FN("float8_e4m3fn", 1, "Float8_e4m3fnStorage", Family.FLOAT),
    /** {@code torch.float8_e5m2}: floating point, 1 byte per element. */
    FLOAT8_E5M2("float8_e5m2", 1, "Float8_e5m2Storage", Family.FLOAT),
    /** {@code torch.float8_e4m3fnuz}: floating point, 1 byte per element. */
    FLOAT8_E4M3FNUZ("float8_e4m3fnuz", 1, "Float8_e4m3fnuzStorage", Family.FLOAT),
    /** {@code torch.float8_e5m2fnuz}: floating point, 1 byte per element. */
    FLOAT8_E5M2FNUZ("float8_e5m2fnuz", 1, "Float8_e5m2fnuzStorage", Family.FLOAT),
    /** {@code torch.float8_e8m0fnu}: floating point, 1 byte per element. */
    FLOAT8_E8M0FNU("float8_e8m0fnu", 1, "Float8_e8m0fnuStorage", Family.FLOAT),
    /** Two 4-bit floats packed in one byte; one element is the pair. */
    FLOAT4_E2M1FN_X2("float4_e2m1fn_x2", 1, "Float4_e2m1fn_x2Storage", Family.PACKED),
    /** {@code torch.qint8}: quantized, 1 byte per element. */
    QINT8("qint8", 1, "QInt8Storage", Family.QUANTIZED),
    /** {@code torch.quint8}: quantized, 1 byte per element. */
    QUINT8("quint8", 1, "QUInt8Storage", Family.QUANTIZED),
    /** {@code torch.qint32}: quantized, 4 bytes per element. */
    QINT32("qint32", 4, "QInt32Storage", Family.QUANTIZED),
    /** Two 4-bit unsigned integers per byte, low nibble first; {@link #bytesFor} counts bytes. */
    QUINT4X2("quint4x2", 1, "QUInt4x2Storage", Family.QUANTIZED),
    /** Four 2-bit unsigned integers per byte, lowest bits first; {@link #bytesFor} counts bytes. */
    QUINT2X4("quint2x4", 1, "QUInt2x4Storage", Family.QUANTIZED);

    /** How the bytes of one element are to be understood. */
    public enum Family {
        /** IEEE-style floating point, float8 and bfloat16 included. */
        FLOAT,
        /** Two's-complement signed integers. */
        SIGNED,
        /** Unsigned integers. */
        UNSIGNED,
        /** One byte per element, 0 or 1. */
        BOOL,
        /** A real and an imaginary part of the same float kind. */
        COMPLEX,
        /** Sub-byte floats packed several to a byte ({@code float4_e2m1fn_x2}). */
        PACKED,
        /** Integers with a scale and zero point kept beside the tensor ({@link Quantization}). */
        QUANTIZED
    }

    private static final Map<String, DType> BY_PYTHON_NAME = new HashMap<>();
    private static final Map<String, DType> BY_STORAGE_NAME = new HashMap<>();

    static {
        for (DType d : values()) {
            BY_PYTHON_NAME.put(d.pythonName, d);
            BY_STORAGE_NAME.put(d.storageName, d);
        }
        // Aliases torch accepts as attribute names (torch/_C/__init__.pyi); a pickled dtype uses
        // the canonical name, but hand-made or old files may not.
        String[][] aliases = {{"double", "float64"}, {"float", "float32"}, {"half", "float16"},
            {"long", "int64"}, {"int", "int32"}, {"short", "int16"}, {"cdouble", "complex128"},
            {"cfloat", "complex64"}, {"chalf", "complex32"}};
        for (String[] a : aliases) {
            BY_PYTHON_NAME.put(a[0], BY_PYTHON_NAME.get(a[1]));
        }
    }

    private final String pythonName;
    private final int itemSize;
    private final String storageName;
    private final Family family;

    DType(String pythonName, int itemSize, String storageName, Family family) {
        this.pythonName = pythonName;
        this.itemSize = itemSize;
        this.storageName = storageName;
        this.family = family;
    }

    /** {@return PyTorch's name: {@code float32}, {@code bfloat16}, {@code float8_e4m3fn}} */
    public String pythonName() {
        return pythonName;
    }

    /** {@return bytes per element} */
    public int itemSize() {
        return itemSize;
    }

    /** {@return the typed-storage class name, such as {@code FloatStorage}} */
    public String storageName() {
        return storageName;
    }

    /** {@return how the bytes of one element are to be understood} */
    public Family family() {
        return family;
    }

    /**
     * {@return elements packed into one byte: 2 for {@code quint4x2}, 4 for {@code quint2x4}, else 1
     * ({@code float4_e2m1fn_x2} counts the pair as one element)}
     */
    public int elementsPerByte() {
        return this == QUINT4X2 ? 2 : this == QUINT2X4 ? 4 : 1;
    }

    /**
     * {@return bytes that {@code numel} elements take: {@code numel * itemSize()}, or for the packed
     * quantized dtypes {@code ceil(numel / elementsPerByte())}, which is what PyTorch's
     * {@code int_repr()} of such a tensor holds (a 1-d uint8 tensor of the packed bytes)}
     *
     * @param numel the number of elements, not negative
     * @throws ArithmeticException on overflow
     */
    public long bytesFor(long numel) {
        int per = elementsPerByte();
        return per == 1 ? Math.multiplyExact(numel, (long) itemSize) : (numel + per - 1) / per;
    }

    /**
     * {@return the dtype whose Python name (or alias) is {@code name}, as in {@code torch.<name>}; empty if none}
     *
     * @param name a name such as {@code float32} or {@code half}, without {@code torch.}
     */
    public static Optional<DType> byPythonName(String name) {
        return Optional.ofNullable(BY_PYTHON_NAME.get(name));
    }

    /**
     * {@return the dtype of a typed storage class such as {@code FloatStorage}; empty if none}
     *
     * @param name the class name, without its module
     */
    public static Optional<DType> byStorageName(String name) {
        return Optional.ofNullable(BY_STORAGE_NAME.get(name));
    }

    @Override
    public String toString() {
        return pythonName;
    }
}
