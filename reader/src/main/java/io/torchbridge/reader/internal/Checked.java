package io.torchbridge.reader.internal;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.CheckpointException.Kind;

/**
 * Checked arithmetic on sizes, counts and offsets that come from a file, in the style of Commons
 * Compress's {@code ArchiveException.requireNonNegative} / {@code addExact}: a negative value or
 * an overflow is an {@link Kind#OUT_OF_RANGE} {@link CheckpointException} that names the record
 * and the quantity, never an {@code ArithmeticException} or a wrapped-around value.
 *
 * <p>{@code record} may be null when the value belongs to the whole file; {@code what} names the
 * quantity in the message ("storage size", "record data end").
 */
public final class Checked {
    private Checked() {
    }

    /** {@code a + b}, if it fits 64 bits. */
    public static long add(long a, long b, String record, String what) throws CheckpointException {
        try {
            return Math.addExact(a, b);
        } catch (ArithmeticException e) {
            throw overflow(record, what, a + " + " + b);
        }
    }

    /** {@code a * b}, if it fits 64 bits. */
    public static long multiply(long a, long b, String record, String what) throws CheckpointException {
        try {
            return Math.multiplyExact(a, b);
        } catch (ArithmeticException e) {
            throw overflow(record, what, a + " * " + b);
        }
    }

    /** {@code value} as an int length, if a Java array can hold that many. */
    public static int arrayLength(long value, String record, String what) throws CheckpointException {
        if (value < 0 || value > Integer.MAX_VALUE - 8) {
            throw CheckpointException.at(Kind.LIMIT_EXCEEDED, record, -1, what + " is " + value
                    + ", more than a Java array holds");
        }
        return (int) value;
    }

    /**
     * Whether the bytes {@code [offset, offset + length)} lie inside a span of {@code size} bytes
     * starting at 0, decided without computing {@code offset + length} (which a crafted value can
     * overflow).
     */
    public static boolean fits(long offset, long length, long size) {
        return offset >= 0 && length >= 0 && offset <= size && length <= size - offset;
    }

    private static CheckpointException overflow(String record, String what, String expression) {
        return CheckpointException.at(Kind.OUT_OF_RANGE, record, -1, what + " overflows 64 bits (" + expression + ")");
    }
}
