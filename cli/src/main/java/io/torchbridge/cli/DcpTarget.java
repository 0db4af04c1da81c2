package io.torchbridge.cli;

import io.torchbridge.reader.Checkpoint;
import io.torchbridge.writer.DcpWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A torch.distributed.checkpoint directory of one rank ({@link DcpWriter}), for an OUT whose
 * name ends in {@code .dcp} or that is a DCP directory already, or with {@code --to dcp}.
 * {@code torch.distributed.checkpoint.load} reads it into a state dict of the same structure;
 * the saved object must be a dict, as a DCP state dict is.
 */
final class DcpTarget implements ConvertTarget {
    @Override
    public String name() {
        return "dcp";
    }

    @Override
    public boolean matches(Path out, ConvertCommand.Settings settings) {
        Path name = out.getFileName();
        return name != null && name.toString().endsWith(".dcp") || Files.isRegularFile(out.resolve(".metadata"));
    }

    @Override
    public void write(Checkpoint in, Path out, ConvertCommand.Settings settings) throws IOException {
        Object saved = in.stateDict().<Object>map(d -> d).orElse(in.root());
        DcpWriter.save(saved, out, 1, (n, s) -> -1, settings.writeOptions());
    }
}
