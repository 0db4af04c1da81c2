package io.torchbridge.libtorch;

/**
 * A state dict that does not fit the module, raised where PyTorch's {@code load_state_dict}
 * raises its {@code RuntimeError}, with the same text. Nothing was copied into the module: the
 * loader checks every entry before it writes any (PyTorch copies as it goes and may leave a
 * module half-loaded). The {@link #report()} lists every problem.
 */
public final class StateDictException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final transient LoadReport report;

    StateDictException(String message, LoadReport report) {
        super(message);
        this.report = report;
    }

    /** {@return every problem found, as a non-strict load would report them} */
    public LoadReport report() {
        return report;
    }
}
