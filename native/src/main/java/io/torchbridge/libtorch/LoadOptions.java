package io.torchbridge.libtorch;

import io.torchbridge.reader.DType;
import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;

/**
 * How checkpoint tensors become libtorch tensors. Immutable; start from {@link #defaults()}.
 *
 * @param mapLocation where storages go ({@link MapLocation#keep()} by default, as in PyTorch)
 * @param casts       dtypes converted on load, such as {@code bfloat16 -> float32}; others stay
 * @param writable    always copy into memory libtorch owns, so the tensor may be written to; by
 *                    default a CPU tensor is a zero-copy view of the read-only file mapping
 *                    wherever the layout allows
 */
public record LoadOptions(MapLocation mapLocation, Map<DType, DType> casts, boolean writable) {
    private static final LoadOptions DEFAULTS = new LoadOptions(MapLocation.keep(), Map.of(), false);

    /**
     * Copies {@code casts} into an unmodifiable map.
     *
     * @param mapLocation where storages go
     * @param casts       dtypes converted on load
     * @param writable    always copy into memory libtorch owns
     */
    public LoadOptions {
        Objects.requireNonNull(mapLocation, "mapLocation");
        EnumMap<DType, DType> copy = new EnumMap<>(DType.class);
        copy.putAll(casts);
        casts = Collections.unmodifiableMap(copy);
    }

    /** {@return saved locations, saved dtypes, zero-copy where possible} */
    public static LoadOptions defaults() {
        return DEFAULTS;
    }

    /**
     * {@return these options with another {@link #mapLocation()}}
     *
     * @param m where storages go
     */
    public LoadOptions withMapLocation(MapLocation m) {
        return new LoadOptions(m, casts, writable);
    }

    /**
     * Tensors saved as {@code from} come back as {@code to} ({@code BFLOAT16 -> FLOAT32}).
     *
     * @param from the saved dtype
     * @param to   the dtype it is loaded as
     * @return these options with that cast added (replacing any cast of {@code from})
     */
    public LoadOptions withCast(DType from, DType to) {
        EnumMap<DType, DType> c = new EnumMap<>(DType.class);
        c.putAll(casts);
        c.put(Objects.requireNonNull(from), Objects.requireNonNull(to));
        return new LoadOptions(mapLocation, c, writable);
    }

    /**
     * {@return these options with every floating-point tensor cast to {@code to}, as {@code model.float()} would make it}
     *
     * @param to the floating-point dtype to load as
     */
    public LoadOptions withFloatingCast(DType to) {
        LoadOptions o = this;
        for (DType d : DType.values()) {
            if (d.family() == DType.Family.FLOAT && d != to) {
                o = o.withCast(d, to);
            }
        }
        return o;
    }

    /**
     * {@return these options with another {@link #writable()}}
     *
     * @param w true to always copy into memory libtorch owns
     */
    public LoadOptions withWritable(boolean w) {
        return new LoadOptions(mapLocation, casts, w);
    }

    /**
     * {@return the dtype a tensor saved as {@code saved} gets}
     *
     * @param saved the dtype in the checkpoint
     */
    public DType target(DType saved) {
        return casts.getOrDefault(saved, saved);
    }
}
