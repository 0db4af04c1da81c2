package io.torchbridge.reader;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.torchbridge.testing.Crafted;
import io.torchbridge.testing.P;
import io.torchbridge.testing.ScratchFolder;
import java.math.BigInteger;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Random object trees, pickled the way CPython's pickler does at protocol 2 or 4 (by a test-side
 * encoder, independent of the reader), read back equal: same types, same values, same order.
 */
class PickleProperties {
    private static final Path dir = ScratchFolder.create("pickle-props");

    @Property(tries = 300)
    void treesRoundTrip(@ForAll("trees") Object tree, @ForAll boolean protocol4) throws Exception {
        P p = P.proto(protocol4 ? 4 : 2);
        encode(p, tree, protocol4);
        Object read = Crafted.root(dir, p.stop().bytes());
        assertEquals(tree, read);
        // PyDict.equals ignores order (as Python's dict == does); the claim here is the same order.
        assertEquals(ordered(tree), ordered(read), "the same items in the same order");
    }

    /**
     * {@code v} with every dict turned into its class and its list of (key, value) entries in
     * order, so that equality of the result means equality in order, too.
     */
    static Object ordered(Object v) {
        if (v instanceof PyDict d) {
            List<Object> items = new ArrayList<>();
            d.items().forEach((k, x) -> items.add(Arrays.asList(ordered(k), ordered(x))));
            List<Object> attributes = new ArrayList<>();
            d.attributes().forEach((k, x) -> attributes.add(Arrays.asList(k, ordered(x))));
            return Arrays.asList("dict", d.pythonClass(), items, attributes);
        } else if (v instanceof PyTuple t) {
            return Arrays.asList("tuple", t.items().stream().map(PickleProperties::ordered).toList());
        } else if (v instanceof List<?> l) {
            return Arrays.asList("list", l.stream().map(PickleProperties::ordered).toList());
        }
        return v;
    }

    @Provide
    Arbitrary<Object> trees() {
        // Depth-bounded, so a tree never outgrows the reader tests' 256 MiB heap.
        return Arbitraries.recursive(PickleProperties::leaves, PickleProperties::containers, 0, 4);
    }

    private static Arbitrary<Object> leaves() {
        return Arbitraries.oneOf(
                Arbitraries.strings().ofMaxLength(20).map(s -> (Object) s),
                Arbitraries.longs().map(l -> (Object) l),
                Arbitraries.bigIntegers().between(BigInteger.TWO.pow(200).negate(), BigInteger.TWO.pow(200))
                        .filter(b -> b.bitLength() >= 64).map(b -> (Object) b),
                Arbitraries.doubles().withSpecialValue(Double.NaN).withSpecialValue(-0.0)
                        .withSpecialValue(Double.POSITIVE_INFINITY).map(d -> (Object) d),
                Arbitraries.of(true, false).map(b -> (Object) b),
                Arbitraries.just(null));
    }

    private static Arbitrary<Object> containers(Arbitrary<Object> inner) {
        return Arbitraries.oneOf(
                inner,
                inner.list().ofMaxSize(4).map(l -> (Object) java.util.Collections.unmodifiableList(new ArrayList<>(l))),
                inner.list().ofMaxSize(4).map(l -> (Object) new PyTuple(l)),
                shuffled(Arbitraries.maps(Arbitraries.strings().alpha().ofMaxLength(6).map(s -> (Object) s), inner)
                        .ofMaxSize(5)).map(m -> (Object) new PyDict(PyDict.DICT, m, Map.of())),
                shuffled(Arbitraries.maps(Arbitraries.longs().between(-3, 300).map(l -> (Object) l), inner)
                        .ofMaxSize(5)).map(m -> (Object) new PyDict(PyDict.ORDERED_DICT, m, Map.of())));
    }

    /**
     * The maps' entries in a random insertion order: a map generated as a hash map would iterate
     * in hash order, which a reader that lost the order could reproduce by accident.
     */
    private static Arbitrary<Map<Object, Object>> shuffled(Arbitrary<Map<Object, Object>> maps) {
        return maps.flatMap(m -> Arbitraries.shuffle(new ArrayList<>(m.entrySet())).map(entries -> {
            Map<Object, Object> out = new LinkedHashMap<>();
            entries.forEach(e -> out.put(e.getKey(), e.getValue()));
            return out;
        }));
    }

    /** What CPython's pickler emits for each type (Lib/pickle.py, save_*), memo left out. */
    static void encode(P p, Object v, boolean protocol4) {
        if (v == null) {
            p.none();
        } else if (v instanceof Boolean b) {
            p.op(b ? 0x88 : 0x89);
        } else if (v instanceof Long l) {
            p.integer(l);
        } else if (v instanceof BigInteger b) {
            p.long1(b);
        } else if (v instanceof Double d) {
            p.flt(d);
        } else if (v instanceof String s) {
            byte[] b = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            if (protocol4 && b.length < 256) {
                p.op(0x8c).raw(b.length).raw(b);
            } else {
                p.str(s);
            }
        } else if (v instanceof PyTuple t) {
            if (t.size() == 0) {
                p.emptyTuple();
                return;
            }
            p.mark();
            for (Object o : t.items()) {
                encode(p, o, protocol4);
            }
            p.tuple();
        } else if (v instanceof List<?> l) {
            p.op(']');
            if (!l.isEmpty()) {
                p.mark();
                for (Object o : l) {
                    encode(p, o, protocol4);
                }
                p.op('e');
            }
        } else if (v instanceof PyDict d) {
            if (d.pythonClass().equals(PyDict.ORDERED_DICT)) {
                p.global("collections", "OrderedDict").emptyTuple().reduce();
            } else {
                p.emptyDict();
            }
            if (d.size() > 0) {
                p.mark();
                for (Map.Entry<Object, Object> e : d.items().entrySet()) {
                    encode(p, e.getKey(), protocol4);
                    encode(p, e.getValue(), protocol4);
                }
                p.setitems();
            }
        } else {
            throw new IllegalArgumentException(v.getClass().getName());
        }
    }
}
