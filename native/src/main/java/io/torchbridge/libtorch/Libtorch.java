package io.torchbridge.libtorch;

import io.torchbridge.libtorch.internal.Devices;
import org.bytedeco.pytorch.global.torch;

/**
 * The libtorch this layer runs on: the JavaCPP build of libtorch 2.10, CPU-only by default, or
 * the CUDA build when the {@code -gpu} artifacts are on the class path. The first call loads the
 * native libraries (a few seconds the first time, when JavaCPP unpacks them to its cache).
 */
public final class Libtorch {
    private Libtorch() {
    }

    /** Whether libtorch sees a usable CUDA device ({@code torch::cuda::is_available()}). */
    public static boolean cudaAvailable() {
        return torch.cuda_is_available();
    }

    /** How many CUDA devices libtorch sees; 0 on the CPU build or a machine without a GPU. */
    public static int cudaDeviceCount() {
        return Devices.cudaDeviceCount();
    }
}
