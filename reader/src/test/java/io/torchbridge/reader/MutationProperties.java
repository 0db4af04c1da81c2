package io.torchbridge.reader;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.torchbridge.testing.Repo;
import io.torchbridge.testing.ScratchFolder;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Real fixtures, damaged at random (bit flips, truncation, splices from another file, extreme
 * values written over length and offset fields): the reader either reads them or throws
 * {@link CheckpointException}; nothing else escapes, nothing hangs, and (the reader module's
 * tests run with -Xmx256m) nothing runs out of memory.
 */
class MutationProperties {
    private static final List<byte[]> FIXTURES = new ArrayList<>();
    private static final Path dir = ScratchFolder.create("tb-mutations");

    @BeforeContainer
    static void load() throws IOException {
        for (Path p : Repo.allCheckpoints()) {
            FIXTURES.add(Files.readAllBytes(p));
        }
    }

    @Property(tries = 1500)
    void damagedFixturesFailCleanly(@ForAll long seed) throws IOException {
        Random r = new Random(seed);
        byte[] b = FIXTURES.get(r.nextInt(FIXTURES.size())).clone();
        int kinds = 1 + r.nextInt(3);
        for (int k = 0; k < kinds; k++) {
            b = mutate(b, r);
        }
        Path f = dir.resolve("m" + seed + ".pt");
        Files.write(f, b);
        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> ReaderFuzzTest.readEverything(f),
                "seed " + seed + " hangs");
        Files.delete(f);
    }

    private static byte[] mutate(byte[] b, Random r) {
        if (b.length == 0) {
            return b;
        }
        switch (r.nextInt(5)) {
            case 0 -> { // flip a few bits
                for (int i = 0, n = 1 + r.nextInt(8); i < n; i++) {
                    int pos = r.nextInt(b.length);
                    b[pos] ^= (byte) (1 << r.nextInt(8));
                }
                return b;
            }
            case 1 -> { // truncate
                return Arrays.copyOf(b, r.nextInt(b.length));
            }
            case 2 -> { // splice a range from another fixture
                byte[] other = FIXTURES.get(r.nextInt(FIXTURES.size()));
                int from = r.nextInt(other.length);
                int len = Math.min(other.length - from, 1 + r.nextInt(256));
                int at = r.nextInt(b.length);
                byte[] out = new byte[at + len + Math.max(0, b.length - at - (r.nextBoolean() ? len : 0))];
                System.arraycopy(b, 0, out, 0, at);
                System.arraycopy(other, from, out, at, len);
                System.arraycopy(b, b.length - (out.length - at - len), out, at + len, out.length - at - len);
                return out;
            }
            case 3 -> { // an extreme value over a length/offset-sized field
                long[] extremes = {0, -1, 0xFFFFFFFFL, 0x7FFFFFFFL, 0x80000000L, Long.MAX_VALUE, Long.MIN_VALUE,
                    1L << 40};
                int width = r.nextBoolean() ? 4 : 8;
                if (b.length < width) {
                    return b;
                }
                int pos = r.nextInt(b.length - width + 1);
                ByteBuffer w = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
                long v = extremes[r.nextInt(extremes.length)];
                if (width == 4) {
                    w.putInt(pos, (int) v);
                } else {
                    w.putLong(pos, v);
                }
                return b;
            }
            default -> { // repeat a range in place (memo and length confusion)
                int from = r.nextInt(b.length);
                int len = Math.min(b.length - from, 1 + r.nextInt(64));
                byte[] out = new byte[b.length + len];
                System.arraycopy(b, 0, out, 0, from + len);
                System.arraycopy(b, from, out, from + len, b.length - from);
                return out;
            }
        }
    }
}
