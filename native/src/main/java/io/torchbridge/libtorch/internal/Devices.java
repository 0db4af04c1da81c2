package io.torchbridge.libtorch.internal;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;

/** Device strings as {@code torch.device} spells them, and PyTorch's checks before using one. */
public final class Devices {
    private static final Pattern DEVICE = Pattern.compile("(cpu|cuda)(?::(\\d+))?");

    private Devices() {
    }

    /**
     * {@code cpu}, {@code cuda:N}; a bare {@code cuda} is device 0, which is what PyTorch's
     * {@code default_restore_location} makes of it in a single-process program.
     *
     * @throws IllegalArgumentException not a device string this layer can place tensors on
     */
    public static String normalize(String device) {
        Matcher m = DEVICE.matcher(device == null ? "" : device.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("'" + device + "' is not a device here; use \"cpu\", \"cuda\" or "
                    + "\"cuda:N\" (libtorch's mps, xpu and meta devices are not supported)");
        }
        if (m.group(1).equals("cpu")) {
            if (m.group(2) != null && !m.group(2).equals("0")) {
                throw new IllegalArgumentException("'" + device + "': the cpu device has no index but 0");
            }
            return "cpu";
        }
        return "cuda:" + (m.group(2) == null ? "0" : Integer.parseInt(m.group(2)));
    }

    /**
     * Fails as PyTorch's {@code validate_cuda_device} (torch/serialization.py) does when a storage is
     * to be placed on a CUDA device this machine does not have; the message keeps PyTorch's words
     * and adds the Java spelling of its advice.
     */
    public static void checkAvailable(String normalized) {
        if (!normalized.startsWith("cuda")) {
            return;
        }
        int index = Integer.parseInt(normalized.substring(5));
        if (!torch.cuda_is_available()) {
            throw new IllegalStateException("Attempting to deserialize object on a CUDA device but "
                    + "torch.cuda.is_available() is False. If you are running on a CPU-only machine, please use "
                    + "torch.load with map_location=torch.device('cpu') to map your storages to the CPU. "
                    + "(Here: MapLocation.to(\"cpu\").)");
        }
        int count = cudaDeviceCount();
        if (index >= count) {
            throw new IllegalStateException("Attempting to deserialize object on CUDA device " + index
                    + " but torch.cuda.device_count() is " + count + ". Please use torch.load with map_location to "
                    + "map your storages to an existing device. (Here: MapLocation.to(\"cuda:0\") or a remap.)");
        }
    }

    public static int cudaDeviceCount() {
        return torch.cuda_is_available() ? Byte.toUnsignedInt(torch.cuda_device_count()) : 0;
    }

    /** libtorch's device for a normalized string. */
    public static Device device(String normalized) {
        return new Device(normalized);
    }

    /** The normalized string of a libtorch device. */
    public static String name(Device d) {
        return d.is_cuda() ? "cuda:" + Math.max(0, d.index()) : d.str().getString();
    }
}
