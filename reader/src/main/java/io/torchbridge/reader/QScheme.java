package io.torchbridge.reader;

/** A quantized tensor's scheme: PyTorch's {@code torch.qscheme} values that a checkpoint can hold. */
public enum QScheme {
    /** One scale (float64) and one integer zero point: {@code (q - zero_point) * scale}. */
    PER_TENSOR_AFFINE("per_tensor_affine"),
    /** Per slice along an axis: float64 scales, int64 zero points: {@code (q - zero_point) * scale}. */
    PER_CHANNEL_AFFINE("per_channel_affine"),
    /**
     * Per slice along an axis with float32 scales and float32 zero points (embedding tables, and
     * quint4x2 / quint2x4): {@code (q - zero_point) * scale}. torch.save writes it as
     * {@code per_channel_affine}; the float zero points make torch.load restore this scheme.
     */
    PER_CHANNEL_AFFINE_FLOAT_QPARAMS("per_channel_affine_float_qparams");

    private final String pythonName;

    QScheme(String pythonName) {
        this.pythonName = pythonName;
    }

    /** {@return PyTorch's name without {@code torch.}} */
    public String pythonName() {
        return pythonName;
    }

    @Override
    public String toString() {
        return pythonName;
    }
}
