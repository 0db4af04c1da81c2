package io.torchbridge.reader.diff;

import io.torchbridge.reader.Tensor;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * A big tensor's logical bytes as consecutive blocks of a fixed number of elements, so that two
 * tensors can be compared side by side without either being built on the heap. {@link Tensor#stream}
 * pushes its pieces; a thread per tensor copies them into blocks and hands them over through a
 * short queue, so at most a few blocks per tensor exist at a time.
 */
final class Blocks implements AutoCloseable {
    private static final byte[] END = new byte[0];
    /** Thrown into the stream to stop it when the reader goes away. */
    private static final class Stopped extends RuntimeException {
        Stopped() {
            super(null, null, false, false);
        }
    }

    private final BlockingQueue<Object> queue = new ArrayBlockingQueue<>(2);
    private final Thread thread;
    private volatile boolean stopped;

    /** Starts streaming {@code t}'s {@code totalBytes} logical bytes in blocks of {@code blockBytes}. */
    Blocks(Tensor t, long totalBytes, int blockBytes) {
        thread = new Thread(() -> run(t, totalBytes, blockBytes), "torchbridge-diff " + t.name());
        thread.setDaemon(true);
        thread.start();
    }

    private void run(Tensor t, long totalBytes, int blockBytes) {
        try {
            long[] left = {totalBytes};
            byte[][] cur = {new byte[(int) Math.min(blockBytes, totalBytes)]};
            int[] fill = {0};
            t.stream(piece -> {
                while (piece.hasRemaining()) {
                    if (stopped) {
                        throw new Stopped();
                    }
                    int n = Math.min(piece.remaining(), cur[0].length - fill[0]);
                    piece.get(cur[0], fill[0], n);
                    fill[0] += n;
                    if (fill[0] == cur[0].length) {
                        put(cur[0]);
                        left[0] -= cur[0].length;
                        cur[0] = new byte[(int) Math.min(blockBytes, Math.max(1, left[0]))];
                        fill[0] = 0;
                    }
                }
            });
            put(END);
        } catch (Stopped s) {
            // the reader stopped early; nothing to hand over
        } catch (RuntimeException | Error e) {
            try {
                put(e);
            } catch (Stopped s) {
                // nobody is reading any more
            }
        }
    }

    private void put(Object o) {
        try {
            while (!queue.offer(o, 100, java.util.concurrent.TimeUnit.MILLISECONDS)) {
                if (stopped) {
                    throw new Stopped();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Stopped();
        }
    }

    /** The next block, or null at the end; a failure of the stream is thrown here. */
    byte[] next() {
        Object o;
        try {
            o = queue.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while comparing", e);
        }
        if (o instanceof RuntimeException e) {
            throw e;
        } else if (o instanceof Error e) {
            throw e;
        }
        return o == END ? null : (byte[]) o;
    }

    /** Stops the stream and waits for its thread, so the checkpoint may be closed afterwards. */
    @Override
    public void close() {
        stopped = true;
        queue.clear();
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join(100);
            } catch (InterruptedException e) {
                interrupted = true;
            }
            queue.clear();
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

}
