package io.torchbridge.reader.internal.format;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.ReadOptions;

/**
 * One container format over an opened file: finds its pickle and storages and unpickles them.
 * The file and any index stay owned by whoever opened them; an implementation only reads.
 */
public interface CheckpointFormat {
    /**
     * Unpickles the checkpoint's object with every check {@code options} asks for.
     *
     * @param allowTrailing accept bytes after the pickle's STOP, as torch does (a scan predicting
     *                      torch); the reader itself refuses them
     */
    Unpickled unpickle(ReadOptions options, boolean allowTrailing) throws CheckpointException;
}
