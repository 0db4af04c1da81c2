package io.torchbridge.reader;

/**
 * One tensor under one name, as {@link Checkpoint#entries()} lists them: a tensor reached by two
 * paths is two entries, and so is a name that two paths give to two tensors.
 */
public record TensorEntry(String name, Tensor tensor) {
}
