package io.torchbridge.reader;

import java.util.Objects;

/**
 * A reference to a Python global ({@code module.name}) as named in a pickle: inert data, never
 * resolved to code. Dtypes ({@code torch.float32}), storage classes and admitted classes appear
 * as values of this type.
 *
 * @param module the module, such as {@code torch} or {@code collections}
 * @param name   the name within the module, such as {@code FloatStorage}
 */
public record PyGlobal(String module, String name) {
    /**
     * Checks that neither part is null.
     *
     * @param module the module, such as {@code collections}
     * @param name   the name within it, such as {@code OrderedDict}
     */
    public PyGlobal {
        Objects.requireNonNull(module, "module");
        Objects.requireNonNull(name, "name");
    }

    /** {@return {@code module.name}, as PyTorch's allowlist spells it} */
    public String fullName() {
        return module + "." + name;
    }

    @Override
    public String toString() {
        return fullName();
    }
}
