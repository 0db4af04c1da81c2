/**
 * The writer's machinery: the CPython-compatible pickler, PyTorch's zip layout, and the storage
 * sources that stream Java arrays, buffers or a read checkpoint's mappings to disk.
 */
package io.torchbridge.writer.internal;
