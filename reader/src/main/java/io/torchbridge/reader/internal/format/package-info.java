/**
 * The container formats a checkpoint comes in, one class each behind {@link
 * io.torchbridge.reader.internal.format.CheckpointFormat}: each finds the pickle and the records
 * its storages name, and unpickles it with every check, yielding the raw root ({@link
 * io.torchbridge.reader.internal.format.Unpickled}). The public {@code Checkpoint} builds its
 * value tree from that; the scanner only asks whether it succeeds. Today: the zip of
 * {@code torch.save} ({@link io.torchbridge.reader.internal.format.TorchZip}). Which format a
 * file is in, or which other kind of file it is, is decided in one place for the reader, the
 * scanner and the CLI: {@link io.torchbridge.reader.internal.format.FileKind}.
 */
package io.torchbridge.reader.internal.format;
