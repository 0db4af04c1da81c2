package io.torchbridge.cli;

import io.torchbridge.reader.CheckpointException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.util.Locale;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

/**
 * What every command of the tool shares, whichever of them the command line built: the version
 * ({@code --version}, {@code -V}) and errors as one line, {@code torchbridge: WHAT: what to do},
 * never a stack trace for a user's mistake. Exit status 2 for a usage error (picocli's
 * convention), 1 for a run that failed.
 */
final class Conventions {
    /** Set (to anything) to get the stack trace of an unexpected error, for a bug report. */
    static final String DEBUG_ENV = "TORCHBRIDGE_DEBUG";

    private Conventions() {
    }

    /** Applies the conventions to {@code cl} and every subcommand it has now, and adds {@code help [COMMAND]} last. */
    static CommandLine apply(CommandLine cl) {
        cl.addSubcommand("help", new CommandLine.HelpCommand());
        version(cl);
        cl.setParameterExceptionHandler(Conventions::usageError);
        cl.setExecutionExceptionHandler(Conventions::failed);
        return cl;
    }

    /** Every command gets the tool's version provider (picocli's -V prints nothing without one). */
    private static void version(CommandLine cl) {
        CommandSpec spec = cl.getCommandSpec();
        if (spec.versionProvider() == null && spec.version().length == 0) {
            spec.versionProvider(new Version());
        }
        for (CommandLine sub : cl.getSubcommands().values()) {
            version(sub);
        }
    }

    /** A parse error: what was wrong, the suggestion picocli has if any, and where the help is. */
    private static int usageError(CommandLine.ParameterException e, String[] args) {
        CommandLine cl = e.getCommandLine();
        PrintWriter err = cl.getErr();
        String hint = "";
        if (e instanceof CommandLine.UnmatchedArgumentException u && !u.getSuggestions().isEmpty()) {
            hint = " (did you mean " + String.join(" or ", u.getSuggestions()) + "?)"; // on the same line
        }
        err.println("torchbridge: " + e.getMessage() + hint + ": see '" + cl.getCommandSpec().qualifiedName()
                + " --help'");
        err.flush();
        return 2;
    }

    /** An exception out of a command's run: one line; the stack trace only for what looks like a bug, on request. */
    private static int failed(Exception e, CommandLine cl, CommandLine.ParseResult parsed) {
        PrintWriter err = cl.getErr();
        String who = cl.getCommandSpec().qualifiedName();
        int exit;
        if (e instanceof UsageError) {
            err.println("torchbridge: " + e.getMessage() + ": see '" + who + " --help'");
            exit = 2;
        } else if (e instanceof CheckpointException ce) {
            err.println("torchbridge: " + ce.kind() + ": " + ce.getMessage());
            exit = 1;
        } else if (e instanceof IOException io) {
            err.println("torchbridge: " + describe(io));
            exit = 1;
        } else {
            err.println("torchbridge: " + who.replaceFirst("^torchbridge ?", "") + " failed unexpectedly: " + e
                    + (System.getenv(DEBUG_ENV) == null
                            ? " (a bug: please report it, with the stack trace that " + DEBUG_ENV + "=1 prints)"
                            : ""));
            if (System.getenv(DEBUG_ENV) != null) {
                e.printStackTrace(err);
            }
            exit = 1;
        }
        err.flush();
        return exit;
    }

    /**
     * An I/O error in words, naming the file: the JDK's file-system exceptions carry the path and
     * a reason apart, and often no reason at all ({@code NoSuchFileException: /x/y}).
     */
    static String describe(IOException e) {
        if (e instanceof FileSystemException fs && !(e instanceof CheckpointException)) {
            String file = fs.getFile();
            String reason = fs.getReason();
            if (reason == null) {
                if (e instanceof NoSuchFileException) {
                    reason = "no such file or folder";
                } else if (e instanceof AccessDeniedException) {
                    reason = "permission denied";
                } else {
                    reason = e.getClass().getSimpleName().replaceAll("Exception$", "")
                            .replaceAll("([a-z])([A-Z])", "$1 $2").toLowerCase(Locale.ROOT);
                }
            }
            return (file == null ? "" : file + ": ") + reason
                    + (fs.getOtherFile() == null ? "" : " (" + fs.getOtherFile() + ")");
        }
        return e.getMessage() == null ? e.toString() : e.getMessage();
    }
}
