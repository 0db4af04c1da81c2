/**
 * The zip container, read with Apache Commons Compress ({@code ZipFile}: central directory,
 * zip64, local-header data offsets) plus PyTorch's rules on top: one archive folder, records
 * inside the file, CRCs not checked (PyTorch never checks them).
 */
package io.torchbridge.reader.internal.zip;
