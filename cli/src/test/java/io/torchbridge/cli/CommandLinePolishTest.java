package io.torchbridge.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The rough edges issue 12 found, one test each: version, help, one-line errors, the user's paths. */
class CommandLinePolishTest {
    /** The POM's version, handed over by surefire (the build's own, not read back through our code). */
    private static final String VERSION = System.getProperty("torchbridge.version");

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"", "inspect", "convert", "scan", "demo"})
    void everyCommandPrintsTheBuildsVersionForDashVAndDashDashVersion(String command) {
        assertTrue(VERSION != null && !VERSION.isEmpty(), "surefire passes torchbridge.version");
        for (String flag : new String[] {"-V", "--version"}) {
            Run r = command.isEmpty() ? Run.of(flag) : Run.of(command, flag);
            assertEquals(0, r.exit(), r.err());
            assertTrue(r.out().startsWith("torchbridge " + VERSION + "\n"), command + " " + flag + ": " + r.out());
        }
    }

    @Test
    void helpListsTheCommandsAndHelpCommandShowsThatCommandsUsage() {
        Run all = Run.of("help");
        assertEquals(0, all.exit(), all.err());
        for (String c : new String[] {"inspect", "convert", "scan", "demo"}) {
            assertTrue(all.out().contains("\n  " + c + " "), c + " missing from:\n" + all.out());
        }
        Run one = Run.of("help", "inspect");
        assertEquals(0, one.exit(), one.err());
        assertTrue(one.out().startsWith("Usage: torchbridge inspect "), one.out());
    }

    @Test
    void allowGlobalWithoutADotIsAOneLineUsageError() {
        Run r = Run.of("inspect", "--allow-global", "foo");
        assertEquals(2, r.exit());
        assertTrue(r.oneErrorLine(), r.err());
        assertTrue(r.err().startsWith("torchbridge: --allow-global takes MODULE.NAME"), r.err());
        assertTrue(r.err().contains("'foo'") && r.err().contains("torchbridge inspect --help"), r.err());
    }

    @Test
    void anUnknownOptionIsAOneLineUsageErrorWithWhereTheHelpIs() {
        Run r = Run.of("inspect", "--no-such-option");
        assertEquals(2, r.exit());
        assertTrue(r.oneErrorLine(), r.err());
        assertTrue(r.err().startsWith("torchbridge: Unknown option: '--no-such-option'"), r.err());
        assertTrue(r.err().contains("see 'torchbridge inspect --help'"), r.err());
    }

    @Test
    void aMissingArgumentIsAOneLineUsageError() {
        Run r = Run.of("convert", "only-one.pt");
        assertEquals(2, r.exit());
        assertTrue(r.oneErrorLine(), r.err());
        assertTrue(r.err().contains("Missing required parameter: 'OUT'"), r.err());
    }

    @Test
    void demoInTheLightJarSaysHowToGetIt() {
        Run r = Run.of("demo");
        assertEquals(2, r.exit());
        assertTrue(r.oneErrorLine(), r.err());
        assertTrue(r.err().contains("needs libtorch") && r.err().contains("./torchbridge demo"), r.err());
    }

    @Test
    void convertIntoAMissingFolderNamesTheUsersPathNotTheTemporaryFile() throws IOException {
        Path in = bundled();
        Path out = tmp.resolve("no-such-folder").resolve("x.pt");
        Run r = Run.of("convert", in.toString(), out.toString());
        assertEquals(1, r.exit());
        assertTrue(r.oneErrorLine(), r.err());
        assertTrue(r.err().startsWith("torchbridge: cannot write " + out + ": "), r.err());
        assertTrue(r.err().contains("does not exist"), r.err());
        assertFalse(r.err().contains(".tmp"), r.err());
        assertFalse(Files.exists(out.getParent()));
    }

    /** The checkpoint the jar bundles for {@code inspect} (real torch 2.14), as a file. */
    private Path bundled() throws IOException {
        Path f = tmp.resolve(InspectCommand.BUNDLED);
        try (InputStream in = InspectCommand.class.getResourceAsStream(InspectCommand.BUNDLED)) {
            Files.copy(in, f);
        }
        return f;
    }
}
