package io.torchbridge.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** convert's progress bar: only on a terminal, only after a second of work, fed by the writer's byte counts. */
class ConvertProgressTest {
    private static final long MIB = 1L << 20;

    @Test
    void workPastTheDelayShowsABarThatReachesTheEnd() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        AtomicLong clock = new AtomicLong();
        try (ConvertProgress p = new ConvertProgress(8 * MIB, new PrintStream(err, true, StandardCharsets.UTF_8), 100,
                ConvertProgress.DELAY_NANOS, clock::get)) {
            p.accept(MIB);
            assertFalse(p.shown(), "nothing within the first second");
            clock.set(ConvertProgress.DELAY_NANOS);
            for (long w = 2 * MIB; w <= 8 * MIB; w += MIB) {
                p.accept(w);
            }
            assertTrue(p.shown());
        }
        String text = err.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("convert") && text.contains("100%") && text.contains("8/8 MiB"), text);
    }

    @Test
    void quickWorkPrintsNothing() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try (ConvertProgress p = new ConvertProgress(8 * MIB, new PrintStream(err, true, StandardCharsets.UTF_8), 100,
                ConvertProgress.DELAY_NANOS, () -> 0L)) {
            p.accept(8 * MIB);
            assertFalse(p.shown());
        }
        assertEquals("", err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void noTerminalNoBar() {
        AtomicLong clock = new AtomicLong();
        try (ConvertProgress p = new ConvertProgress(8 * MIB, null, 100, 0, clock::get)) {
            clock.set(10 * ConvertProgress.DELAY_NANOS);
            p.accept(8 * MIB);
            assertFalse(p.shown());
        }
    }

    @Test
    void anOutputLargerThanTheInputGrowsTheBar() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try (ConvertProgress p = new ConvertProgress(MIB, new PrintStream(err, true, StandardCharsets.UTF_8), 100, 0,
                () -> 0L)) {
            p.accept(3 * MIB);
        }
        String text = err.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("100%") && text.contains("3/3 MiB"), text);
    }
}
