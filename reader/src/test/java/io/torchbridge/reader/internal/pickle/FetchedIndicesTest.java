package io.torchbridge.reader.internal.pickle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.torchbridge.testing.P;
import java.util.BitSet;
import org.junit.jupiter.api.Test;

/** The pre-walk that tells the memo which entries a GET reads again (PickleReader.fetchedIndices). */
class FetchedIndicesTest {
    private static BitSet bits(int... i) {
        BitSet b = new BitSet();
        for (int x : i) {
            b.set(x);
        }
        return b;
    }

    @Test
    void everyGetFormUpToTheFirstStop() {
        // N q00 h00 BINGET 0, j05000000 LONG_BINGET 5, g7\\n GET 7, . STOP, h09 after it (never run)
        byte[] b = P.proto(4).op('N').op('q').raw(0).op('h').raw(0).op('j').le(5, 4).op('g').line("7")
                .stop().op('h').raw(9).stop().bytes();
        assertEquals(bits(0, 5, 7), PickleReader.fetchedIndices(b));
    }

    @Test
    void keepsEverythingWhenTheWalkCannotFinishOrAnIndexIsHuge() {
        // LONG_BINGET 2^31: past the dense memo, so no set of indices can say what to drop
        assertNull(PickleReader.fetchedIndices(P.proto(4).op('j').le(1L << 31, 4).stop().bytes()));
        // a BINUNICODE whose length runs past the end
        assertNull(PickleReader.fetchedIndices(P.proto(4).op('X').le(100, 4).bytes()));
    }
}
