package io.torchbridge.libtorch;

import io.torchbridge.libtorch.internal.Devices;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.pytorch.global.torch;

/**
 * The libtorch this layer runs on: the JavaCPP build of libtorch 2.10, CPU-only by default, or
 * the CUDA build when the {@code -gpu} artifacts are on the class path. The first call loads the
 * native libraries (a few seconds the first time, when JavaCPP unpacks them to its cache).
 */
public final class Libtorch {
    private Libtorch() {
    }

    /** {@return whether libtorch sees a usable CUDA device ({@code torch::cuda::is_available()})} */
    public static boolean cudaAvailable() {
        return torch.cuda_is_available();
    }

    /** {@return how many CUDA devices libtorch sees; 0 on the CPU build or a machine without a GPU} */
    public static int cudaDeviceCount() {
        return Devices.cudaDeviceCount();
    }

    /**
     * {@return whether the CUDA build of libtorch ({@code org.bytedeco:pytorch} with the
     * {@code <platform>-gpu} classifier) is on the class path, whether or not a GPU is present}
     */
    public static boolean cudaBuild() {
        String dir = "org/bytedeco/pytorch/" + Loader.getPlatform() + "-gpu/";
        ClassLoader cl = torch.class.getClassLoader();
        return cl != null && cl.getResource(dir) != null;
    }

    /**
     * {@return why CUDA is not usable here, in one line for people, or {@code null} when it is} Says whether
     * the CPU build is on the class path or the CUDA build sees no device.
     */
    public static String whyNoCuda() {
        if (cudaAvailable()) {
            return null;
        }
        return cudaBuild()
                ? "the CUDA build of libtorch is on the class path, but torch::cuda::is_available() is false "
                        + "(no GPU, no driver for CUDA 13, or CUDA libraries missing from the library path)"
                : "libtorch here is the CPU-only build (org.bytedeco:pytorch:" + Loader.getPlatform()
                        + "); build with -Pgpu for the CUDA one";
    }
}
