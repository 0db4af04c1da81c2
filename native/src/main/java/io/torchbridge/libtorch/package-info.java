/**
 * libtorch (the JavaCPP presets of PyTorch 2.10) over the reader and the writer: checkpoint tensors
 * as libtorch tensors and back ({@link io.torchbridge.libtorch.NativeTensors}, placed by a
 * {@link io.torchbridge.libtorch.MapLocation}), {@code load_state_dict} into modules built in Java
 * ({@link io.torchbridge.libtorch.StateDictLoader}, {@link io.torchbridge.libtorch.LoadReport}),
 * {@code state_dict()} out of them ({@link io.torchbridge.libtorch.StateDictExporter}), TorchScript
 * archives run and given new weights ({@link io.torchbridge.libtorch.ScriptedModule}), and
 * Adam/AdamW/SGD state in PyTorch's layout ({@link io.torchbridge.libtorch.OptimizerStates}).
 *
 * <p>Ownership: a {@link io.torchbridge.libtorch.NativeTensor} owns one libtorch handle and
 * {@link io.torchbridge.libtorch.NativeTensorMap} owns its tensors; closing them releases the
 * handles, and using them afterwards throws {@link java.lang.IllegalStateException}. libtorch
 * reference-counts the storages behind the handles; a storage over a checkpoint's mapped file
 * keeps that mapping alive until libtorch frees it, so closing the checkpoint first is safe.
 * Modules and optimizers are the caller's, as JavaCPP makes them.
 */
package io.torchbridge.libtorch;
