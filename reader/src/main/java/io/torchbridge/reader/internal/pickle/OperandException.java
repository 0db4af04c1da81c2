package io.torchbridge.reader.internal.pickle;

import io.torchbridge.reader.CheckpointException.Kind;

/**
 * An opcode or operand {@link OpcodeDecoder} cannot decode, with the kind of the failure: the reader
 * turns it into a {@link io.torchbridge.reader.CheckpointException} at the opcode's offset, the
 * scanner into its error note. No stack trace: it is thrown for bad files, not for bugs.
 */
final class OperandException extends Exception {
    private static final long serialVersionUID = 1L;
    private final Kind kind;

    OperandException(Kind kind, String message) {
        super(message, null, false, false);
        this.kind = kind;
    }

    Kind kind() {
        return kind;
    }
}
