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

    /** {@return torch.save's layout, crash-safe, no progress reports} */
    public static WriteOptions defaults() {
        return DEFAULTS;
    }

    /**
     * {@return these options with another {@link #progress()}}
     *
     * @param p called with the bytes written so far; null for none
     */
    public WriteOptions withProgress(LongConsumer p) {
        return new WriteOptions(archiveName, fsync, p);
    }

    /**
     * {@return these options with another {@link #archiveName()}}
     *
     * @param name the archive's top folder; null to name it after the file
     */
    public WriteOptions withArchiveName(String name) {
        return new WriteOptions(name, fsync, progress);
    }

    /**
     * Skipping the fsync trades crash safety for speed: the rename may then publish a file not yet on disk.
     *
     * @param f true (the default) to flush before the rename
     * @return these options with another {@link #fsync()}
     */
    public WriteOptions withFsync(boolean f) {
        return new WriteOptions(archiveName, f, progress);
    }
}
