package io.torchbridge.reader.internal.format;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.reader.ReadOptions;
import io.torchbridge.reader.internal.data.MappedFile;
import io.torchbridge.reader.internal.zip.ZipContainer;

/** The TorchScript layout of torch 1.0-1.2: {@code model.json}, {@code attributes.pkl}, {@code tensors/N}. */
final class TorchScriptV1 {
    private final MappedFile file;
    private final ZipContainer zip;

    TorchScriptV1(MappedFile file, ZipContainer zip) {
        this.file = file;
        this.zip = zip;
    }

    Unpickled unpickle(ReadOptions options) throws CheckpointException {
        throw CheckpointException.of(Kind.UNSUPPORTED, "a TorchScript archive of torch 1.0-1.2 (model.json) is not "
                + "read yet");
    }
}
