package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The command line builds only the subcommand it runs (a cold start's saving), yet the usage and
 * the error for a command it does not know still see every subcommand.
 */
class CliUsageTest {
    private static final String[] ALL = {"inspect", "convert", "scan", "demo"};

    @Test
    void noArgumentsListsEverySubcommand() {
        CliRun r = CliRun.of();
        for (String c : ALL) {
            assertTrue(r.err().contains("\n  " + c + " "), c + " missing from:\n" + r.err());
        }
    }

    @Test
    void anUnknownCommandIsRefusedWithASuggestionFromEverySubcommand() {
        CliRun r = CliRun.of("convrt", "a.pt", "b.pt");
        assertNotEquals(0, r.exit());
        assertTrue(r.err().contains("'convrt'"), r.err());
        // picocli lists every close name: "convert or export" since export exists (issue 12)
        assertTrue(r.err().matches("(?si).*did you mean:? (torchbridge )?convert\\b.*"), r.err());
    }

    @Test
    void aSubcommandsHelpIsItsOwn() {
        CliRun r = CliRun.of("convert", "--help");
        assertEquals(0, r.exit());
        assertTrue(r.out().startsWith("Usage: torchbridge convert "), r.out());
    }
}
