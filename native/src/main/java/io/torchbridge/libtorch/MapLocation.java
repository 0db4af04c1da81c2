package io.torchbridge.libtorch;

import io.torchbridge.libtorch.internal.Devices;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.function.UnaryOperator;

/**
 * Where a checkpoint's storages go, with the meaning of {@code torch.load}'s {@code map_location}
 * (torch/serialization.py, {@code _get_restore_location}):
 *
 * <ul>
 *   <li>{@link #keep()}: each storage on the device it was saved from ({@code cpu},
 *       {@code cuda:0}); the default. A CUDA-saved storage on a machine without CUDA fails with
 *       PyTorch's advice to map it.</li>
 *   <li>{@link #to(String)}: everything onto one device, {@code map_location='cpu'} or
 *       {@code torch.device('cuda:1')}.</li>
 *   <li>{@link #remap(Map)}: location tags renamed, {@code map_location={'cuda:1': 'cuda:0'}};
 *       tags not in the map stay as saved.</li>
 *   <li>{@link #using(UnaryOperator)}: a function of the saved tag; returning {@code null} keeps
 *       the saved location, as a Python callable returning None does.</li>
 * </ul>
 *
 * Devices are {@code cpu}, {@code cuda} (device 0) and {@code cuda:N}. Immutable.
 */
public final class MapLocation {
    private static final MapLocation KEEP = new MapLocation("as saved", tag -> null);

    private final String description;
    private final UnaryOperator<String> mapping;

    private MapLocation(String description, UnaryOperator<String> mapping) {
        this.description = description;
        this.mapping = mapping;
    }

    /** {@return a mapping that keeps each storage where it was saved (PyTorch's default)} */
    public static MapLocation keep() {
        return KEEP;
    }

    /**
     * {@return a mapping that puts every storage onto {@code device}: {@code "cpu"}, {@code "cuda"}, {@code "cuda:1"}}
     *
     * @param device the target device
     */
    public static MapLocation to(String device) {
        String d = Devices.normalize(device);
        return new MapLocation("to " + d, tag -> d);
    }

    /**
     * Saved location tags renamed by {@code tags} ({@code "cuda:1" -> "cuda:0"}); others as saved.
     *
     * @param tags saved tag to device; copied
     * @return the mapping
     */
    public static MapLocation remap(Map<String, String> tags) {
        Map<String, String> copy = new LinkedHashMap<>();
        tags.forEach((from, to) -> copy.put(Objects.requireNonNull(from, "tag"), Devices.normalize(to)));
        Map<String, String> fixed = Collections.unmodifiableMap(copy);
        return new MapLocation("remap " + fixed, fixed::get);
    }

    /**
     * {@return a mapping where {@code fn(savedTag)} is the device; {@code null} keeps the saved location}
     *
     * @param fn saved location tag to device, or to {@code null}
     */
    public static MapLocation using(UnaryOperator<String> fn) {
        Objects.requireNonNull(fn, "fn");
        return new MapLocation("by function", fn);
    }

    /**
     * {@return the device a storage saved at {@code savedLocation} goes to, normalized ({@code cpu},
     * {@code cuda:0})} Does not check that the device exists; loading does.
     *
     * @param savedLocation the location tag saved with the storage ({@code cpu}, {@code cuda:1})
     * @throws IllegalArgumentException the mapping names something that is not a device here
     */
    public String target(String savedLocation) {
        String mapped = mapping.apply(savedLocation);
        if (mapped == null) {
            try {
                return Devices.normalize(savedLocation);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("a storage was saved on '" + savedLocation + "', which libtorch "
                        + "here cannot place; map it, e.g. MapLocation.to(\"cpu\")", e);
            }
        }
        return Devices.normalize(mapped);
    }

    @Override
    public String toString() {
        return "MapLocation[" + description + "]";
    }
}
