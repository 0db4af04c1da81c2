package io.torchbridge.writer.internal;

import io.torchbridge.reader.DType;

/**
 * A tensor as the pickler writes it: a view of a storage, in elements, plus the bits that travel
 * in its rebuild call.
 *
 * @param location the storage's location tag ({@code cpu}, {@code cuda:0}); null for {@code cpu}
 */
public record TensorView(StorageSource storage, String location, DType dtype, long[] shape, long[] stride, long offset,
                         boolean requiresGrad, boolean parameter, boolean conj, boolean neg) {
}
