/**
 * Writing checkpoints that real PyTorch loads: {@link io.torchbridge.writer.CheckpointWriter}
 * saves an object tree as torch.save does, {@link io.torchbridge.writer.NewTensor} wraps Java
 * data as tensors without copying it.
 */
package io.torchbridge.writer;
