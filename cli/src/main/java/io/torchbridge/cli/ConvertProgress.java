package io.torchbridge.cli;

import java.io.PrintStream;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;
import java.util.function.LongSupplier;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * {@code convert}'s progress bar (me.tongfei:progressbar) on standard error, fed by the writers'
 * progress callback ({@code WriteOptions.progress}, bytes written so far), so every convert
 * target reports through it. It appears only when standard error is a terminal and only once the
 * work has run for a second: quick conversions and redirected output stay silent.
 */
final class ConvertProgress implements LongConsumer, AutoCloseable {
    /** Set to 1 by the launcher when standard error is a terminal (Java cannot ask that of stderr itself). */
    static final String TERMINAL_ENV = "TORCHBRIDGE_STDERR_TTY";
    static final long DELAY_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final long total;
    private final PrintStream err;
    private final int width;
    private final long delayNanos;
    private final LongSupplier clock;
    private final long start;
    private ProgressBar bar;

    ConvertProgress(long total, PrintStream err, int width, long delayNanos, LongSupplier clock) {
        this.total = total;
        this.err = err;
        this.width = width;
        this.delayNanos = delayNanos;
        this.clock = clock;
        this.start = clock.getAsLong();
    }

    /**
     * A bar over about {@code total} bytes (the input's size; outputs differ a little, and the bar
     * grows to fit) on {@link System#err} when it is a terminal, else a callback that does nothing.
     */
    static ConvertProgress onTerminal(long total) {
        boolean terminal = "1".equals(System.getenv(TERMINAL_ENV))
                || (System.getenv(TERMINAL_ENV) == null && System.console() != null);
        return new ConvertProgress(total, terminal ? System.err : null, 0, DELAY_NANOS, System::nanoTime);
    }

    @Override
    public void accept(long written) {
        if (err == null) {
            return;
        }
        if (bar == null) {
            if (clock.getAsLong() - start < delayNanos) {
                return;
            }
            bar = new ProgressBarBuilder().setTaskName("convert").setInitialMax(Math.max(total, written))
                    .setStyle(ProgressBarStyle.ASCII).setUnit(" MiB", 1L << 20).showSpeed()
                    .setConsumer(width > 0 ? new ConsoleProgressBarConsumer(err, width) : new ConsoleProgressBarConsumer(err))
                    .build();
        }
        if (written > bar.getMax()) {
            bar.maxHint(written);
        }
        bar.stepTo(written);
    }

    /** Whether the bar was shown (the work ran past the delay on a terminal). */
    boolean shown() {
        return bar != null;
    }

    @Override
    public void close() {
        if (bar != null) {
            bar.close();
        }
    }
}
