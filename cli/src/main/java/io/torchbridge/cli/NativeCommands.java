package io.torchbridge.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;

/**
 * The commands that need libtorch ({@code demo}), which the light CLI jar leaves out so that
 * inspect, convert and scan never download or load it. They live in the demo module; this class
 * finds them by name when that module is on the class path (the jar {@code ./torchbridge demo}
 * builds), and otherwise stands in with a command that says how to get them.
 */
final class NativeCommands {
    static final String DEMO_CLASS = "io.torchbridge.cli.demo.DemoCommand";

    private NativeCommands() {
    }

    /** {@code demo}: the real one when the demo module is on the class path, else the stand-in. */
    static Object demo() {
        try {
            return Class.forName(DEMO_CLASS).getDeclaredConstructor().newInstance();
        } catch (ClassNotFoundException e) {
            return new DemoNotInThisJar();
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot make " + DEMO_CLASS, e);
        }
    }

    /** {@code demo} in the light jar: says how to run the real one. */
    @Command(name = "demo", mixinStandardHelpOptions = true,
            description = {"Real PyTorch trains small models; Java (libtorch) loads, matches, resumes and "
                    + "exports them; Python resumes Java's export.",
                    "Needs libtorch (about 110 MB), which this light jar leaves out: ./torchbridge demo builds "
                            + "the demo jar, with libtorch, on first use."})
    static final class DemoNotInThisJar implements Callable<Integer> {
        @Unmatched
        List<String> args = new ArrayList<>();

        @Override
        public Integer call() {
            throw new UsageError("demo needs libtorch, which this jar (the light CLI) leaves out: run it as "
                    + "'./torchbridge demo' from the repository, which builds the demo jar (with libtorch, about "
                    + "110 MB) on first use");
        }
    }
}
