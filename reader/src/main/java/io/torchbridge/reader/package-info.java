/**
 * Reading PyTorch checkpoints: {@link io.torchbridge.reader.Checkpoint} opens a file,
 * {@link io.torchbridge.reader.Tensor} gives zero-copy or copied access to each tensor, and the
 * {@code Py*} records hold the non-tensor values as inert data. Every failure on a bad file is a
 * {@link io.torchbridge.reader.CheckpointException} with a kind and a location. Scanning a file
 * without reading it is {@code io.torchbridge.reader.scan}.
 */
package io.torchbridge.reader;
