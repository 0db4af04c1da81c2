package io.torchbridge.reader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.testing.P;
import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.reader.internal.pickle.PickleReader;
import io.torchbridge.reader.internal.pickle.StorageRef;
import io.torchbridge.reader.internal.pickle.TensorSpec;
import org.junit.jupiter.api.Test;

/**
 * The value tree alone, with no archive around it: a tensor whose view cannot be read from its
 * storage is refused under its name where the tree names it, and a tree that holds one anywhere,
 * named or not, is never handed out. The storages have no bytes: a refused tensor is never read.
 */
class RefusedTensorTreeTest {
    private static Object unpickle(byte[] pickle) throws CheckpointException {
        PickleReader reader = new PickleReader(ReadOptions.defaults(), "data.pkl",
                (type, dtype, key, location, numel) -> new StorageRef(
                        new StorageInfo(key, type, location, numel * dtype.itemSize()), dtype, null, null));
        return reader.read(pickle);
    }

    private static P pastItsStorage(P p) {
        // a [2, 3] float view at offset 1 of a 6-element storage: it needs element 6
        return p.tensorV2("FloatStorage", "0", 6, 1, new long[] {2, 3}, new long[] {3, 1});
    }

    @Test
    void theUnpicklerKeepsTheRefusalOnTheSpecWithTheRebuildsOffset() throws CheckpointException {
        P p = pastItsStorage(P.proto(2));
        int reduce = p.bytes().length - 1;
        Object raw = unpickle(p.stop().bytes());
        TensorSpec t = (TensorSpec) raw;
        assertEquals(Kind.OUT_OF_RANGE, t.refusal.kind());
        assertEquals(reduce, t.refusal.offset());
        assertFalse(t.refusal.tensorName().isPresent(), "no name exists while unpickling");
    }

    @Test
    void aNamedTensorIsRefusedUnderItsName() throws CheckpointException {
        Object raw = unpickle(pastItsStorage(P.proto(2).emptyDict().mark().str("layer.0.weight")).setitems()
                .stop().bytes());
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> new ValueTree(ReadOptions.defaults(), "data.pkl").build(raw));
        assertEquals(Kind.OUT_OF_RANGE, e.kind());
        assertEquals("layer.0.weight", e.tensorName().orElseThrow());
        assertTrue(e.getMessage().contains("tensor 'layer.0.weight': a float32 tensor of size [2, 3]"), e.getMessage());
    }

    @Test
    void aTensorTheNamesNeverReachIsRefusedAllTheSame() throws CheckpointException {
        // torch.device(<view>): an inert call keeps its arguments but they get no names
        Object raw = unpickle(pastItsStorage(P.proto(2).global("torch", "device").mark()).tuple().reduce()
                .stop().bytes());
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> new ValueTree(ReadOptions.defaults(), "data.pkl").build(raw));
        assertEquals(Kind.OUT_OF_RANGE, e.kind());
        assertFalse(e.tensorName().isPresent());
    }
}
