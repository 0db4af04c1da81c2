package io.torchbridge.cli;

import io.torchbridge.reader.Checkpoint;
import io.torchbridge.writer.CheckpointWriter;
import java.io.IOException;
import java.nio.file.Path;

/** torch.save's zip format, everything kept: the default target. */
final class TorchSaveTarget implements ConvertTarget {
    @Override
    public String name() {
        return "pth";
    }

    @Override
    public boolean matches(Path out, ConvertCommand.Settings settings) {
        return true; // the fallback: any name the other targets do not claim
    }

    @Override
    public void write(Checkpoint in, Path out, ConvertCommand.Settings settings) throws IOException {
        // a TorchScript archive becomes its state_dict, as torch.save(torch.jit.load(IN).state_dict(), OUT)
        Object saved = in.stateDict().<Object>map(d -> d).orElse(in.root());
        CheckpointWriter.save(saved, out, settings.writeOptions());
    }
}
