package io.torchbridge.reader;

import java.io.IOException;
import java.util.Objects;
import java.util.Optional;

/**
 * The one exception for a file that cannot be read as asked: its {@link Kind} says what went
 * wrong, and the record, byte offset and tensor name say where.
 *
 * <p>The message starts with the location, for example {@code data.pkl+0x1F3: REDUCE on an empty
 * stack}, and ends with what the user can do about it where there is something to do.
 */
public final class CheckpointException extends IOException {
    private static final long serialVersionUID = 1L;

    /** What went wrong; a closed set, so callers and tests can match on it. */
    public enum Kind {
        /** The bytes do not follow the format (bad opcode, inconsistent sizes, wrong types). */
        MALFORMED,
        /** The file or a record ends before the data it declares. */
        TRUNCATED,
        /** A valid PyTorch feature this version does not read (say which, and what to do). */
        UNSUPPORTED,
        /** The pickle names a global outside the allowlist; the message names the option to admit it. */
        DISALLOWED_GLOBAL,
        /** An index, offset or extent points outside the data it refers to. */
        OUT_OF_RANGE,
        /** A configured safety limit (memo size, nesting, lengths) was exceeded. */
        LIMIT_EXCEEDED,
        /** The file could not be read at all (missing, unreadable); the cause is kept. */
        IO
    }

    /** What went wrong. */
    private final Kind kind;
    /** The archive record where it happened, or null. */
    private final String record;
    /** The byte offset within the record (or the file), or -1. */
    private final long offset;
    /** The flattened name of the tensor concerned, or null. */
    private final String tensorName;
    /** The message without the location prefix. */
    private final String detail;

    private CheckpointException(Kind kind, String record, long offset, String tensorName,
                                String detail, Throwable cause) {
        super(format(record, offset, tensorName, detail), cause);
        this.kind = Objects.requireNonNull(kind, "kind");
        this.record = record;
        this.offset = offset;
        this.tensorName = tensorName;
        this.detail = detail;
    }

    /**
     * {@return an error that happened in a record at a byte offset within it (offset -1 when unknown)}
     *
     * @param kind   what went wrong
     * @param record the archive record, such as {@code data.pkl}; null when none
     * @param offset the byte offset within the record, or -1 when unknown
     * @param detail what is wrong, without the location (the message adds it)
     */
    public static CheckpointException at(Kind kind, String record, long offset, String detail) {
        return new CheckpointException(kind, record, offset, null, detail, null);
    }

    /**
     * {@return an error about the whole file or its container, with no particular record}
     *
     * @param kind   what went wrong
     * @param detail what is wrong
     */
    public static CheckpointException of(Kind kind, String detail) {
        return new CheckpointException(kind, null, -1, null, detail, null);
    }

    /**
     * {@return a copy of this error with {@code cause} as its cause}
     *
     * @param cause the underlying exception, or null
     */
    public CheckpointException withCause(Throwable cause) {
        return new CheckpointException(kind, record, offset, tensorName, detail, cause);
    }

    /**
     * {@return a copy of this error naming the tensor it concerns}
     *
     * @param name the tensor's flattened name
     */
    public CheckpointException forTensor(String name) {
        CheckpointException e = new CheckpointException(kind, record, offset, name, detail, getCause());
        e.setStackTrace(getStackTrace());
        return e;
    }

    /** {@return what went wrong} */
    public Kind kind() {
        return kind;
    }

    /** {@return the archive record (such as {@code data.pkl} or {@code data/3}) where it happened, if known} */
    public Optional<String> record() {
        return Optional.ofNullable(record);
    }

    /** {@return the byte offset within {@link #record()} (or the file), or -1 when not known} */
    public long offset() {
        return offset;
    }

    /** {@return the tensor concerned, by its flattened name, if known} */
    public Optional<String> tensorName() {
        return Optional.ofNullable(tensorName);
    }

    /** {@return the message without the location prefix} */
    public String detail() {
        return detail;
    }

    private static String format(String record, long offset, String tensorName, String detail) {
        StringBuilder sb = new StringBuilder();
        if (record != null) {
            sb.append(record);
            if (offset >= 0) {
                sb.append("+0x").append(Long.toHexString(offset).toUpperCase(java.util.Locale.ROOT));
            }
            sb.append(": ");
        } else if (offset >= 0) {
            sb.append("offset 0x").append(Long.toHexString(offset).toUpperCase(java.util.Locale.ROOT)).append(": ");
        }
        if (tensorName != null) {
            sb.append("tensor '").append(tensorName).append("': ");
        }
        return sb.append(detail).toString();
    }
}
