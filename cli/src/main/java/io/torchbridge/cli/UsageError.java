package io.torchbridge.cli;

/**
 * A mistake on the command line that picocli's parser cannot see (an option's value in the wrong
 * form, say): reported like a parse error, on one line with what to do, exit status 2.
 */
final class UsageError extends RuntimeException {
    private static final long serialVersionUID = 1L;

    UsageError(String message) {
        super(message);
    }
}
