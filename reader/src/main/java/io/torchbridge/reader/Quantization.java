package io.torchbridge.reader;

import java.util.Objects;

/**
 * How a quantized tensor's integers map to real values ({@link Tensor#quantization()}). The
 * tensor itself holds the integers ({@code t.int_repr()} in PyTorch); {@link
 * Tensor#toDequantizedFloatArray()} applies this mapping.
 */
public sealed interface Quantization {
    /** {@return the scheme, as {@code t.qscheme()} reports it after {@code torch.load}} */
    QScheme scheme();

    /**
     * One scale and zero point for the whole tensor ({@code torch.quantize_per_tensor}).
     *
     * @param scale     {@code t.q_scale()}
     * @param zeroPoint {@code t.q_zero_point()}
     */
    record PerTensor(double scale, long zeroPoint) implements Quantization {
        @Override
        public QScheme scheme() {
            return QScheme.PER_TENSOR_AFFINE;
        }
    }

    /**
     * A scale and zero point per index of {@code axis} ({@code torch.quantize_per_channel}).
     *
     * @param scheme     {@link QScheme#PER_CHANNEL_AFFINE} (float64 scales, int64 zero points) or
     *                   {@link QScheme#PER_CHANNEL_AFFINE_FLOAT_QPARAMS} (float32 both)
     * @param scales     {@code t.q_per_channel_scales()}: 1-d, one per index of the axis
     * @param zeroPoints {@code t.q_per_channel_zero_points()}: 1-d, one per index of the axis
     * @param axis       {@code t.q_per_channel_axis()}
     */
    record PerChannel(QScheme scheme, Tensor scales, Tensor zeroPoints, int axis) implements Quantization {
        /**
         * Checks that nothing is null and the scheme is a per-channel one.
         *
         * @param scheme     a per-channel scheme
         * @param scales     one scale per index of the axis
         * @param zeroPoints one zero point per index of the axis
         * @param axis       the quantized axis
         * @throws IllegalArgumentException {@code scheme} is {@link QScheme#PER_TENSOR_AFFINE}
         */
        public PerChannel {
            Objects.requireNonNull(scheme, "scheme");
            Objects.requireNonNull(scales, "scales");
            Objects.requireNonNull(zeroPoints, "zeroPoints");
            if (scheme == QScheme.PER_TENSOR_AFFINE) {
                throw new IllegalArgumentException("a per-channel quantization has a per-channel scheme");
            }
        }
    }
}
