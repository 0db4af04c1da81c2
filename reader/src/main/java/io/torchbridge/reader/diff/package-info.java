/**
 * Comparing two checkpoints: {@link io.torchbridge.reader.diff.CheckpointDiff} says which tensors
 * are only in one, which changed dtype, shape, layout or values (how many elements, by how much),
 * and which non-tensor values changed. What {@code torchbridge diff} prints; one line in a JUnit test.
 */
package io.torchbridge.reader.diff;
