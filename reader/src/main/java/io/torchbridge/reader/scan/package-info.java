/**
 * Scanning a checkpoint without reading it, the job picklescan does: {@link
 * io.torchbridge.reader.scan.Scan#scan(java.nio.file.Path)} lists every global its pickle names,
 * the opcodes used and dangerous patterns, and predicts whether PyTorch's
 * {@code torch.load(weights_only=True)} and this reader would load it. Kept apart from the core
 * API: reading a checkpoint never needs it.
 */
package io.torchbridge.reader.scan;
