/**
 * The zip container, read by our own index reader (end records, zip64, the central directory in
 * one read, local headers for data offsets) with PyTorch's rules on top: one archive folder,
 * records inside the file, CRCs not checked (PyTorch never checks them). Deflated records are
 * decoded by Apache Commons Compress.
 */
package io.torchbridge.reader.internal.zip;
