package io.torchbridge.reader.internal.pickle;

/**
 * A tensor a container describes outside the pickle (the legacy tar's {@code tensors} member),
 * which the pickle names by a persistent id. It becomes a tensor with the same checks as a rebuild
 * call's ({@code _rebuild_tensor}): the view must fit its storage.
 */
public record TensorRef(StorageRef storage, long offset, long[] shape, long[] stride) {
}
