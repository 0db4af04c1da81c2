package common;

import io.torchbridge.libtorch.LoadOptions;
import io.torchbridge.libtorch.MapLocation;
import io.torchbridge.libtorch.NativeTensor;
import io.torchbridge.libtorch.NativeTensors;
import io.torchbridge.reader.Checkpoint;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import org.bytedeco.pytorch.Tensor;

/**
 * What the examples share: Python's reference file ({@code <model>.io.pt}, a {@code torch.save}d
 * dict of inputs and eval outputs) and the comparison of Java's outputs with Python's.
 *
 * <p>The measure is relative to the output's scale: {@code max|java - python| / max|python|} over
 * every element, which must be at most {@link #TOLERANCE}. An element-wise relative error is not
 * used because outputs cross zero, where it is unbounded for any float32 rounding.
 *
 * <p>Inputs come on the device the model runs on; Java's outputs go back to the CPU to be
 * compared with Python's, which are computed on the CPU.
 */
public final class Reference implements AutoCloseable {
    /** float32 over deep stacks: the bound the examples promise. */
    public static final double TOLERANCE = 1e-4;

    private final Checkpoint io;
    private final LoadOptions onDevice;
    private final java.util.List<NativeTensor> loaded = new java.util.ArrayList<>();
    private boolean passed = true;

    private Reference(Checkpoint io, String device) {
        this.io = io;
        this.onDevice = device.equals("cpu") ? LoadOptions.defaults()
                : LoadOptions.defaults().withMapLocation(MapLocation.to(device));
    }

    /** Opens Python's {@code <model>.io.pt} in {@code dir}; inputs on the CPU. */
    public static Reference open(Path dir, String model) throws IOException {
        return open(dir, model, "cpu");
    }

    /** Opens Python's {@code <model>.io.pt} in {@code dir}; {@link #tensor} gives inputs on {@code device}. */
    public static Reference open(Path dir, String model, String device) throws IOException {
        return new Reference(Checkpoint.open(dir.resolve(model + ".io.pt")), device);
    }

    /**
     * The reference tensor {@code name} as a libtorch tensor on the device given to {@link #open}:
     * on the CPU over the mapped file (read-only), elsewhere a copy there. Lives until {@link #close}.
     */
    public Tensor tensor(String name) {
        return load(name, onDevice);
    }

    private Tensor load(String name, LoadOptions options) {
        NativeTensor t = NativeTensors.load(io.tensor(name), options);
        loaded.add(t);
        return t.tensor();
    }

    /**
     * Compares Java's output {@code actual} (on any device; copied to the CPU) with the reference
     * tensor {@code name}, prints one line with the differences, and remembers a failure.
     */
    public double compare(PrintStream out, String what, Tensor actual, String name) {
        Tensor python = load(name, LoadOptions.defaults());
        actual = actual.cpu();
        if (!java.util.Arrays.equals(actual.sizes().vec().get(), python.sizes().vec().get())) {
            throw new IllegalStateException(what + ": Java's shape " + shape(actual) + " is not Python's " + shape(python));
        }
        double maxAbs = actual.sub(python).abs().max().item_double();
        double scale = python.abs().max().item_double();
        double rel = scale == 0 ? maxAbs : maxAbs / scale;
        boolean ok = rel <= TOLERANCE;
        passed &= ok;
        out.printf("%-48s %s  max|java - python| = %.3e  max|python| = %.3e  relative = %.3e  (%s %.0e)%n", what,
                shape(actual), maxAbs, scale, rel, ok ? "<=" : "FAIL >", TOLERANCE);
        return rel;
    }

    /** Whether every comparison so far was within {@link #TOLERANCE}. */
    public boolean passed() {
        return passed;
    }

    private static String shape(Tensor t) {
        return java.util.Arrays.toString(t.sizes().vec().get());
    }

    @Override
    public void close() throws IOException {
        loaded.forEach(NativeTensor::close);
        io.close();
    }
}
