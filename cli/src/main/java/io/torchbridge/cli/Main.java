package io.torchbridge.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code torchbridge} command line. */
@Command(name = "torchbridge", mixinStandardHelpOptions = true, version = "torchbridge 0.1.0",
        description = "Read and write PyTorch checkpoints without Python.",
        subcommands = {InspectCommand.class, ConvertCommand.class, ScanCommand.class, DemoCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns the exit code (for tests). */
    public static int run(String... args) {
        return new CommandLine(new Main()).execute(args);
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.err);
    }
}
