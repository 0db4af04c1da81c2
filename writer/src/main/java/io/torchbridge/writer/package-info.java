/**
 * Writing checkpoints that {@code torch.load(weights_only=True)} accepts. Filled in by the writer
 * issue; the module exists now so the chain reader, writer, native, cli is in place.
 */
package io.torchbridge.writer;
