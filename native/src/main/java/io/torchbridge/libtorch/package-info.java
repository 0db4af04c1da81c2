/**
 * libtorch tensors and modules through the JavaCPP PyTorch presets. Filled in by the native-layer
 * issue; the module exists now so the chain reader, writer, native, cli is in place.
 */
package io.torchbridge.libtorch;
