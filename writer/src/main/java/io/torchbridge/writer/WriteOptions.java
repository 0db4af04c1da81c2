package io.torchbridge.writer;

import java.util.function.LongConsumer;

/**
 * How a checkpoint is written.
 *
 * @param archiveName the archive's top folder; {@code null} names it after the file, as torch.save does
 * @param fsync       flush the file (and its folder) to disk before the rename that publishes it
 * @param progress    called with the bytes written so far, about once per MiB; may be null
 */
public record WriteOptions(String archiveName, boolean fsync, LongConsumer progress) {
    private static final WriteOptions DEFAULTS = new WriteOptions(null, true, null);

    /** torch.save's layout, crash-safe, no progress reports. */
    public static WriteOptions defaults() {
        return DEFAULTS;
    }

    public WriteOptions withProgress(LongConsumer p) {
        return new WriteOptions(archiveName, fsync, p);
    }

    public WriteOptions withArchiveName(String name) {
        return new WriteOptions(name, fsync, progress);
    }

    /** Skipping the fsync trades crash safety for speed: the rename may then publish a file not yet on disk. */
    public WriteOptions withFsync(boolean f) {
        return new WriteOptions(archiveName, f, progress);
    }
}
