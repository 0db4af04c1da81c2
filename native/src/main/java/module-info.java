/**
 * TorchBridge native: libtorch tensors and modules (JavaCPP PyTorch presets) fed from the reader
 * and written back through the writer. Only the API package is exported; the JavaCPP plumbing
 * stays in {@code io.torchbridge.libtorch.internal}.
 */
module io.torchbridge.libtorch {
    requires transitive io.torchbridge.writer;
    // The presets' own module names (META-INF/versions/9/module-info.class in their jars). The API
    // takes and returns libtorch Tensors, Modules and Optimizers, so callers need them too.
    requires transitive org.bytedeco.pytorch;
    requires transitive org.bytedeco.javacpp;

    exports io.torchbridge.libtorch;
}
