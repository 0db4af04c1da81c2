package io.torchbridge.cli;

import io.torchbridge.reader.Checkpoint;
import java.io.IOException;
import java.nio.file.Path;

/**
 * One kind of output {@code convert} writes. {@link ConvertCommand#TARGETS} lists them; a new
 * format adds one class and one line there, not a branch in the command.
 */
interface ConvertTarget {
    /** The name {@code --to} takes ({@code pth}, {@code safetensors}, ...). */
    String name();

    /** Whether an output path with no {@code --to} means this target (by its name or what exists there). */
    boolean matches(Path out, ConvertCommand.Settings settings);

    /**
     * Writes {@code in} to {@code out}. What the target cannot carry (views, shared storage,
     * non-tensor values) is refused with a {@link io.torchbridge.reader.CheckpointException} that
     * names it and the flag that allows it ({@code --materialize}, {@code --drop-values}), unless
     * {@code settings} allows it; never dropped silently.
     */
    void write(Checkpoint in, Path out, ConvertCommand.Settings settings) throws IOException;
}
