package io.torchbridge.cli;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code torchbridge} command line. */
@Command(name = "torchbridge", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = "Read and write PyTorch checkpoints without Python.")
public final class Main implements Runnable {
    /** The subcommands, in the order the usage lists them. */
    private static final Map<String, Supplier<Object>> SUBCOMMANDS = new LinkedHashMap<>();

    static {
        SUBCOMMANDS.put("inspect", InspectCommand::new);
        SUBCOMMANDS.put("convert", ConvertCommand::new);
        SUBCOMMANDS.put("scan", ScanCommand::new);
        SUBCOMMANDS.put("diff", DiffCommand::new);
        SUBCOMMANDS.put("export", ExportCommand::new);
        SUBCOMMANDS.put("demo", NativeCommands::demo);
    }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /**
     * Runs the command line and exits the JVM with its exit code.
     *
     * @param args the command line, such as {@code inspect model.pt}
     */
    public static void main(String[] args) {
        System.exit(run(args));
    }

    /**
     * Runs the command line and returns the exit code (for tests).
     *
     * @param args the command line, such as {@code inspect model.pt}
     * @return the exit code: 0 on success
     */
    public static int run(String... args) {
        return commandLine(args.length > 0 ? args[0] : null).execute(args);
    }

    /**
     * The command line with only the subcommand {@code first} names, when it names one: picocli
     * builds the model of every subcommand it is given, by reflection, which costs a cold start
     * (of {@code convert}, say) more than the work it came for. Anything else (no subcommand,
     * --help, a typo) gets them all, so that the usage and the error messages list them.
     */
    static CommandLine commandLine(String first) {
        CommandLine cl = new CommandLine(new Main());
        Supplier<Object> only = first == null ? null : SUBCOMMANDS.get(first);
        if (only != null) {
            cl.addSubcommand(first, only.get());
        } else {
            SUBCOMMANDS.forEach((name, make) -> cl.addSubcommand(name, make.get()));
        }
        return Conventions.apply(cl);
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.err);
    }
}
