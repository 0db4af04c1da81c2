package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.torchbridge.reader.DType;
import io.torchbridge.reader.PyDict;
import io.torchbridge.reader.PyTuple;
import io.torchbridge.testing.Repo;
import io.torchbridge.writer.CheckpointWriter;
import io.torchbridge.writer.NewTensor;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * The writer's random round trip: Java writes random checkpoints with {@link CheckpointWriter}, and
 * real PyTorch 1.13, 2.6 and 2.14 load every one with {@code torch.load(weights_only=True)} (and a
 * second time with {@code mmap=True} on 2.x) and compare what they get, value by value, with an
 * expected manifest ({@code fixtures/check_written.py}).
 *
 * <p>The expected manifest is computed here from the Java data alone, never from the writer or the
 * reader: each tensor's logical elements are gathered from the source bytes by index arithmetic
 * (storage offset plus index times stride), the conj and neg bits are applied by hand, and the
 * result is hashed with SHA-256; values, names, dict classes and key order come from walking the
 * Java tree. Which tensors share a storage is known from how they were made.
 *
 * <p>Each torch version gets its own set of {@code torchbridge.writerCount} (default 100) files,
 * drawn from a seeded {@link Random} with only what that version can load (see {@link Profile}),
 * then ONE Python process per version checks the whole set: starting torch costs a second or two.
 * The seed is printed; {@code -Dtorchbridge.seed=N} replays a run exactly. (Not a jqwik property:
 * the check happens once per batch, after all tries, so shrinking could not act on a failure; the
 * seed replays it instead.) {@code -Dtorchbridge.writerDir=DIR} keeps the files in DIR/torch-VERSION
 * (a path under /tmp: the chroot torches see only /tmp and the repository).
 *
 * <p>A few probe files per version record what that version's loader cannot take at all, and
 * must keep refusing (see {@link #probes}).
 */
class WriterRoundTripTest {
    static final int COUNT = Integer.getInteger("torchbridge.writerCount", 100);
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    static long seed() {
        return Long.getLong("torchbridge.seed", System.nanoTime() % 1_000_000_000L);
    }

    @TestFactory
    Stream<DynamicNode> javaWrittenCheckpointsLoadInRealTorch() {
        long seed = seed();
        System.out.println("WriterRoundTripTest seed " + seed + " (replay with -Dtorchbridge.seed=" + seed + ")");
        return Repo.TORCH_VERSIONS.stream().map(v -> DynamicTest.dynamicTest("torch " + v + " seed " + seed, () -> {
            TorchMatrix.Torch torch = TorchMatrix.require(v);
            Profile profile = Profile.of(v);
            String keep = System.getProperty("torchbridge.writerDir");
            Path dir = (keep != null ? Path.of(keep).toAbsolutePath() : tmp).resolve("torch-" + v);
            Files.createDirectories(dir);
            long t0 = System.nanoTime();
            int tensors = writeSet(dir, profile, seed, COUNT);
            probes(dir, profile);
            long t1 = System.nanoTime();
            String out;
            try {
                out = torch.run(300, Repo.fixtures().resolve("check_written.py").toString(), dir.toString());
            } catch (IOException e) {
                fail("torch " + v + " rejects Java-written checkpoints (seed " + seed + ", replay with -Dtorchbridge.seed="
                        + seed + "):\n" + e.getMessage());
                return;
            }
            long t2 = System.nanoTime();
            String summary = out.lines().filter(l -> l.startsWith("check_written:")).findFirst().orElse(out);
            System.out.printf("torch %s: wrote %d files (%d tensors) in %.1f s; checked in %.1f s: %s%n", v, COUNT, tensors,
                    (t1 - t0) / 1e9, (t2 - t1) / 1e9, summary);
            long files;
            try (Stream<Path> l = Files.list(dir)) {
                files = l.filter(f -> f.getFileName().toString().endsWith(".expected.json")).count();
            }
            assertTrue(summary.startsWith("check_written: " + files + " passed, 0 failed"),
                    "expected all " + files + " files checked and passed:\n" + out);
        }));
    }

    /** Without torch: every generated tree is one the writer takes, for every profile. */
    @Test
    void writerAcceptsEveryGeneratedTree() throws IOException {
        long seed = seed();
        for (String v : Repo.TORCH_VERSIONS) {
            Path dir = tmp.resolve("gen-" + v);
            Files.createDirectories(dir);
            int tensors = writeSet(dir, Profile.of(v), seed, 40);
            assertTrue(tensors > 40, "seed " + seed + ": only " + tensors + " tensors in 40 files");
        }
    }

    /** The expected side's index arithmetic and bit handling on hand-checked cases. */
    @Test
    void expectedValuesByIndexArithmetic() {
        byte[] ints = new byte[12 * 4];
        for (int i = 0; i < 12; i++) {
            ints[4 * i] = (byte) i;
        }
        Dt i32 = Dt.byName("int32");
        // a [2, 3] view with stride [1, 4] from offset 1: the transpose of a 3x4 block's columns 1..2
        byte[] got = logical(new Storage("s", i32, ints, 12, false), new long[] {2, 3}, new long[] {1, 4}, 1, false, false);
        byte[] want = new byte[6 * 4];
        int[] idx = {1, 5, 9, 2, 6, 10};
        for (int i = 0; i < 6; i++) {
            want[4 * i] = (byte) idx[i];
        }
        assertArrayEquals(want, got);
        // expand: stride 0 repeats one element; 0-dim: the element at the offset
        assertArrayEquals(new byte[] {7, 0, 0, 0, 7, 0, 0, 0}, logical(new Storage("s", i32, ints, 12, false),
                new long[] {2}, new long[] {0}, 7, false, false));
        assertArrayEquals(new byte[] {3, 0, 0, 0}, logical(new Storage("s", i32, ints, 12, false),
                new long[] {}, new long[] {}, 3, false, false));
        // neg on int32 wraps; on float32 it flips the sign bit (also of 0.0)
        assertArrayEquals(new byte[] {-3, -1, -1, -1}, logical(new Storage("s", i32, ints, 12, false),
                new long[] {}, new long[] {}, 3, false, true));
        Dt f32 = Dt.byName("float32");
        assertArrayEquals(new byte[] {0, 0, 0, (byte) 0x80}, logical(new Storage("s", f32, new byte[4], 1, true),
                new long[] {}, new long[] {}, 0, false, true));
        // complex64 (1+2j): conj gives 1-2j, conj then neg gives -1+2j
        byte[] c = new byte[8];
        java.nio.ByteBuffer.wrap(c).order(java.nio.ByteOrder.LITTLE_ENDIAN).putFloat(1f).putFloat(2f);
        Dt c64 = Dt.byName("complex64");
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(logical(new Storage("s", c64, c, 1, true),
                new long[] {}, new long[] {}, 0, true, false)).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        assertEquals(1f, b.getFloat());
        assertEquals(-2f, b.getFloat());
        b = java.nio.ByteBuffer.wrap(logical(new Storage("s", c64, c, 1, true),
                new long[] {}, new long[] {}, 0, true, true)).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        assertEquals(-1f, b.getFloat());
        assertEquals(2f, b.getFloat());
        assertEquals("(1, -2)", keyStr(PyTuple.of(1L, -2L)));
        assertEquals("(5,)", keyStr(PyTuple.of(5L)));
        assertEquals("()", keyStr(PyTuple.of()));
    }

    // ------------------------------------------------------------------------------------------
    // what each torch version can load

    /**
     * What a torch version's {@code torch.load(weights_only=True)} can take.
     *
     * <ul>
     *   <li>1.13: the dtypes it has (no uint16/32/64, no float8; complex32 only as
     *       {@code _rebuild_tensor_v3}, which 1.13 lacks, and 1.13 cannot save it either). Its
     *       {@code _rebuild_tensor_v2} takes 6 arguments, so no conj/neg bits (1.13 drops them on save).
     *       Its weights_only unpickler has no BINFLOAT and no {@code _codecs.encode}, so a file with
     *       a Python float or bytes value loads only with weights_only=False (as torch 1.13's own such
     *       files do): 70% of its files hold neither and load with weights_only=True, 30% hold both and
     *       load with weights_only=False.</li>
     *   <li>2.6: all but float8_e8m0fnu (absent there), with conj/neg bits.</li>
     *   <li>2.14: all, float8_e8m0fnu and float4_e2m1fn_x2 included.</li>
     * </ul>
     */
    record Profile(String torch, int level, List<Dt> dtypes, boolean bits, double weightsOnlyFalseShare) {
        static Profile of(String version) {
            int level = switch (version) {
                case "1.13.1" -> 0;
                case "2.6.0" -> 1;
                case "2.14.1" -> 2;
                default -> throw new IllegalArgumentException(version);
            };
            List<Dt> dts = Dt.ALL.stream().filter(d -> d.since <= level).toList();
            return new Profile(version, level, dts, level > 0, level == 0 ? 0.3 : 0.0);
        }
    }

    /** How the bytes of one element are made and negated. */
    enum Kind { BOOL, SINT, UINT, IEEE, RAW, COMPLEX }

    /**
     * A dtype as this test knows it, independently of the library: its name, size, kind, IEEE layout
     * (exponent and mantissa bits of the value, or of each complex component), the first profile
     * level that loads it, and whether torch can negate it and let it require grad.
     */
    record Dt(String name, int size, Kind kind, int exp, int mant, int since, boolean negatable, boolean grad) {
        static final List<Dt> ALL = List.of(
                new Dt("float64", 8, Kind.IEEE, 11, 52, 0, true, true),
                new Dt("float32", 4, Kind.IEEE, 8, 23, 0, true, true),
                new Dt("float16", 2, Kind.IEEE, 5, 10, 0, true, true),
                new Dt("bfloat16", 2, Kind.IEEE, 8, 7, 0, true, true),
                new Dt("int8", 1, Kind.SINT, 0, 0, 0, true, false),
                new Dt("int16", 2, Kind.SINT, 0, 0, 0, true, false),
                new Dt("int32", 4, Kind.SINT, 0, 0, 0, true, false),
                new Dt("int64", 8, Kind.SINT, 0, 0, 0, true, false),
                new Dt("uint8", 1, Kind.UINT, 0, 0, 0, true, false),
                new Dt("bool", 1, Kind.BOOL, 0, 0, 0, false, false),
                new Dt("complex64", 8, Kind.COMPLEX, 8, 23, 0, true, true),
                new Dt("complex128", 16, Kind.COMPLEX, 11, 52, 0, true, true),
                // torch has no neg kernel for these (neg_cpu not implemented)
                new Dt("uint16", 2, Kind.UINT, 0, 0, 1, false, false),
                new Dt("uint32", 4, Kind.UINT, 0, 0, 1, false, false),
                new Dt("uint64", 8, Kind.UINT, 0, 0, 1, false, false),
                new Dt("complex32", 4, Kind.COMPLEX, 5, 10, 1, true, true),
                new Dt("float8_e4m3fn", 1, Kind.RAW, 0, 0, 1, false, true),
                new Dt("float8_e5m2", 1, Kind.RAW, 0, 0, 1, false, true),
                new Dt("float8_e4m3fnuz", 1, Kind.RAW, 0, 0, 1, false, true),
                new Dt("float8_e5m2fnuz", 1, Kind.RAW, 0, 0, 1, false, true),
                new Dt("float8_e8m0fnu", 1, Kind.RAW, 0, 0, 2, false, true),
                new Dt("float4_e2m1fn_x2", 1, Kind.RAW, 0, 0, 2, false, true));

        static Dt byName(String n) {
            return ALL.stream().filter(d -> d.name.equals(n)).findFirst().orElseThrow();
        }

        /** The writer's enum constant, used only to call {@link NewTensor#ofBytes}. */
        DType dtype() {
            return DType.byPythonName(name).orElseThrow();
        }
    }

    // ------------------------------------------------------------------------------------------
    // writing a set

    /** Writes {@code count} random checkpoints with their expected manifests; returns the tensor count. */
    static int writeSet(Path dir, Profile p, long seed, int count) throws IOException {
        Random rnd = new Random(seed * 1_000_003L + p.level);
        int tensors = 0;
        for (int i = 0; i < count; i++) {
            boolean weightsOnlyFalse = i >= count * (1 - p.weightsOnlyFalseShare);
            Gen g = new Gen(new Random(rnd.nextLong()), p, weightsOnlyFalse);
            Object tree = g.root();
            String name = String.format("w%04d", i);
            Map<String, Object> expected = g.expected(tree, name + ".pt",
                    "seed " + seed + " file " + i + " profile " + p.torch);
            if (weightsOnlyFalse) {
                expected.put("weights_only", false);
            }
            try {
                CheckpointWriter.save(tree, dir.resolve(name + ".pt"));
            } catch (RuntimeException e) {
                throw new AssertionError("seed " + seed + " file " + name + ": the writer refuses the tree: " + e, e);
            }
            JSON.writeValue(dir.resolve(name + ".expected.json").toFile(), expected);
            tensors += ((List<?>) expected.get("tensors")).size();
        }
        return tensors;
    }

    /**
     * Files the version's {@code torch.load} must refuse, each with the error it must give: what
     * that PyTorch itself cannot load either (its own files of this kind fail the same way).
     */
    static void probes(Path dir, Profile p) throws IOException {
        Map<String, Object[]> probes = new LinkedHashMap<>();
        // pickle's LONG4 (ints of 256+ bytes, as CPython pickles them too): no weights_only loader has it
        probes.put("probe_long4", new Object[] {Map.of("big", BigInteger.ONE.shiftLeft(2100)), "Unsupported operand 139", true});
        if (p.level == 0) {
            probes.put("probe_float", new Object[] {Map.of("x", 0.5), "Unsupported operand 71", true}); // BINFLOAT 'G'
            probes.put("probe_bytes", new Object[] {Map.of("b", new byte[] {1, 2}), "Unsupported class _codecs.encode", true});
            NewTensor c = NewTensor.ofBytes(new byte[8], DType.COMPLEX64, 1).withConj(true);
            probes.put("probe_conj", new Object[] {Map.of("c", c), "takes 6 positional arguments but 7 were given", false});
            probes.put("probe_complex32", new Object[] {Map.of("c", NewTensor.ofBytes(new byte[4], DType.COMPLEX32, 1)),
                "_rebuild_tensor_v3", false});
        }
        if (p.level == 1) {
            probes.put("probe_float8_e8m0fnu", new Object[] {
                Map.of("t", NewTensor.ofBytes(new byte[] {127}, DType.FLOAT8_E8M0FNU, 1)), "float8_e8m0fnu", true});
        }
        if (p.level > 0) {
            // _rebuild_tensor_v3 makes torch.empty(requires_grad=True) and then set_()s it in place,
            // which autograd refuses: torch cannot load its own torch.save of such a tensor either
            NewTensor f8 = NewTensor.ofBytes(new byte[] {1, 2}, DType.FLOAT8_E4M3FN, 2).withRequiresGrad(true);
            probes.put("probe_v3_requires_grad", new Object[] {Map.of("t", f8),
                "a leaf Variable that requires grad is being used in an in-place operation", true});
        }
        for (Map.Entry<String, Object[]> e : probes.entrySet()) {
            CheckpointWriter.save(e.getValue()[0], dir.resolve(e.getKey() + ".pt"));
            Map<String, Object> exp = new LinkedHashMap<>();
            exp.put("file", e.getKey() + ".pt");
            exp.put("expect_load_error", e.getValue()[1]);
            exp.put("weights_only", e.getValue()[2]);
            JSON.writeValue(dir.resolve(e.getKey() + ".expected.json").toFile(), exp);
        }
    }

    // ------------------------------------------------------------------------------------------
    // the expected side: logical bytes from the source bytes by index arithmetic

    /** One storage: its bytes, as given to the writer (which must not change them). */
    record Storage(String key, Dt dt, byte[] raw, long numel, boolean bitSafe) {
    }

    /** How a tensor object was made. */
    record TInfo(Storage s, long[] shape, long[] stride, long offset, boolean requiresGrad, boolean param,
                 boolean conj, boolean neg) {
    }

    /** The logical elements of a view, row-major and little-endian, conj then neg applied. */
    static byte[] logical(Storage s, long[] shape, long[] stride, long offset, boolean conj, boolean neg) {
        int size = s.dt.size;
        long numel = 1;
        for (long d : shape) {
            numel *= d;
        }
        byte[] out = new byte[Math.toIntExact(numel * size)];
        long[] idx = new long[shape.length];
        for (int n = 0; n < numel; n++) {
            long at = offset;
            for (int i = 0; i < shape.length; i++) {
                at += idx[i] * stride[i];
            }
            System.arraycopy(s.raw, Math.toIntExact(at * size), out, n * size, size);
            if (conj) { // complex: negate the imaginary half (flip its sign bit)
                out[n * size + size - 1] ^= (byte) 0x80;
            }
            if (neg) {
                negate(s.dt, out, n * size);
            }
            for (int i = shape.length - 1; i >= 0; i--) {
                if (++idx[i] < shape[i]) {
                    break;
                }
                idx[i] = 0;
            }
        }
        return out;
    }

    /** Negates one element in place: IEEE values flip their sign bit, integers wrap (two's complement). */
    static void negate(Dt dt, byte[] b, int at) {
        switch (dt.kind) {
            case IEEE -> b[at + dt.size - 1] ^= (byte) 0x80;
            case COMPLEX -> {
                b[at + dt.size / 2 - 1] ^= (byte) 0x80;
                b[at + dt.size - 1] ^= (byte) 0x80;
            }
            case SINT, UINT -> {
                long v = 0;
                for (int i = dt.size - 1; i >= 0; i--) {
                    v = v << 8 | (b[at + i] & 0xFF);
                }
                v = -v;
                for (int i = 0; i < dt.size; i++) {
                    b[at + i] = (byte) (v >>> (8 * i));
                }
            }
            default -> throw new IllegalStateException("no neg for " + dt.name);
        }
    }

    static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** str(key) as Python prints a key of these kinds. */
    static String keyStr(Object k) {
        if (k == null) {
            return "None";
        }
        if (k instanceof PyTuple t) {
            StringBuilder sb = new StringBuilder("(");
            for (int i = 0; i < t.size(); i++) {
                sb.append(i == 0 ? "" : ", ").append(t.get(i));
            }
            return sb.append(t.size() == 1 ? ",)" : ")").toString();
        }
        return k.toString();
    }

    static String keyType(Object k) {
        if (k == null) {
            return "none";
        }
        if (k instanceof String) {
            return "str";
        }
        if (k instanceof Long || k instanceof BigInteger) {
            return "int";
        }
        if (k instanceof PyTuple) {
            return "tuple";
        }
        throw new IllegalArgumentException("key " + k);
    }

    // ------------------------------------------------------------------------------------------
    // the generator

    static final class Gen {
        private static final int[] CHARS = ("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 _-/:\"'\\\n\t\u0000"
                + "éüßñçøå✓€—日本語中文한글ДЖЯπΩ😀🚀𝄞").codePoints().toArray();
        private static final int[] KEY_CHARS = "abcdefghijklmnopqrstuvwxyz_0123456789éß✓日😀".codePoints().toArray();

        final Random r;
        final Profile p;
        /** Python floats and bytes: only in files loaded with weights_only=False on torch 1.13. */
        final boolean floatsAndBytes;
        final List<Storage> storages = new ArrayList<>();
        final Map<Storage, NewTensor> bases = new IdentityHashMap<>();
        final List<NewTensor> placed = new ArrayList<>();
        final List<Object> containers = new ArrayList<>();
        final IdentityHashMap<NewTensor, TInfo> infos = new IdentityHashMap<>();
        final int maxDepth;

        Gen(Random r, Profile p, boolean weightsOnlyFalse) {
            this.r = r;
            this.p = p;
            this.floatsAndBytes = p.level > 0 || weightsOnlyFalse;
            this.maxDepth = 1 + r.nextInt(4);
        }

        boolean chance(double x) {
            return r.nextDouble() < x;
        }

        Object root() {
            if (chance(0.04)) {
                return tensor();
            }
            return container(0, chance(0.7) ? 0 : r.nextInt(5));
        }

        Object node(int depth) {
            if (!containers.isEmpty() && chance(0.03)) {
                return containers.get(r.nextInt(containers.size())); // the same object again (pickle memo)
            }
            int k = r.nextInt(100);
            if (depth < maxDepth && k < 30) {
                return container(depth, r.nextInt(5));
            }
            if (k < 62) {
                return tensor();
            }
            return scalar();
        }

        Object container(int depth, int kind) {
            int n = r.nextInt(100) < 8 ? 0 : 1 + r.nextInt(depth == 0 ? 8 : 5);
            Object c;
            switch (kind) {
                case 0, 1, 2 -> {
                    Map<Object, Object> items = new LinkedHashMap<>();
                    Set<String> names = new HashSet<>();
                    for (int i = 0; i < n; i++) {
                        Object key = key();
                        if (names.add(keyStr(key))) {
                            items.put(key, node(depth + 1));
                        }
                    }
                    if (kind == 0) {
                        c = new PyDict(PyDict.DICT, items, Map.of());
                    } else if (kind == 1) {
                        c = new PyDict(PyDict.ORDERED_DICT, items, chance(0.3) ? Map.of("_metadata", metadata()) : Map.of());
                    } else {
                        c = items; // a plain Map is written as a dict
                    }
                }
                case 3 -> {
                    List<Object> l = new ArrayList<>();
                    for (int i = 0; i < n; i++) {
                        l.add(node(depth + 1));
                    }
                    c = l;
                }
                default -> {
                    List<Object> l = new ArrayList<>();
                    for (int i = 0; i < n; i++) {
                        l.add(node(depth + 1));
                    }
                    c = new PyTuple(l);
                }
            }
            containers.add(c);
            return c;
        }

        /** A state_dict's _metadata: module prefix to {'version': n}. */
        Object metadata() {
            Map<Object, Object> m = new LinkedHashMap<>();
            m.put("", new PyDict(PyDict.DICT, Map.of("version", 1L), Map.of()));
            for (int i = r.nextInt(3); i > 0; i--) {
                m.put(string(KEY_CHARS, 1 + r.nextInt(5)), new PyDict(PyDict.DICT, Map.of("version", (long) r.nextInt(4)), Map.of()));
            }
            return new PyDict(PyDict.ORDERED_DICT, m, Map.of());
        }

        Object key() {
            int k = r.nextInt(100);
            if (k < 70) {
                return string(KEY_CHARS, r.nextInt(100) < 3 ? 0 : 1 + r.nextInt(8));
            }
            if (k < 85) {
                return (long) r.nextInt(20) - 3;
            }
            if (k < 88) {
                return BigInteger.ONE.shiftLeft(64 + r.nextInt(40)).add(BigInteger.valueOf(r.nextInt(1000)));
            }
            if (k < 98) {
                List<Object> t = new ArrayList<>();
                for (int i = r.nextInt(4); i > 0; i--) {
                    t.add((long) r.nextInt(10) - 2);
                }
                return new PyTuple(t);
            }
            return null;
        }

        String string(int[] chars, int len) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < len; i++) {
                sb.appendCodePoint(chars[r.nextInt(chars.length)]);
            }
            return sb.toString();
        }

        Object scalar() {
            int k = r.nextInt(floatsAndBytes ? 100 : 70);
            if (k < 14) {
                return string(CHARS, r.nextInt(100) < 10 ? 0 : r.nextInt(20));
            }
            if (k < 30) {
                return integer();
            }
            if (k < 38) {
                return r.nextBoolean();
            }
            if (k < 44) {
                return null;
            }
            if (k < 58) {
                return integer();
            }
            if (k < 70) {
                return string(CHARS, r.nextInt(6));
            }
            if (k < 88) {
                return pyFloat();
            }
            byte[] b = new byte[r.nextInt(100) < 20 ? 0 : r.nextInt(24)];
            r.nextBytes(b);
            return b;
        }

        Object integer() {
            long[] edges = {0, 1, 255, 256, 65535, 65536, -1, -256, Integer.MAX_VALUE, Integer.MIN_VALUE,
                (long) Integer.MAX_VALUE + 1, (long) Integer.MIN_VALUE - 1, Long.MAX_VALUE, Long.MIN_VALUE};
            int k = r.nextInt(10);
            if (k < 3) {
                return edges[r.nextInt(edges.length)];
            }
            if (k < 6) {
                return (long) r.nextInt(2000) - 1000;
            }
            if (k < 8) {
                return r.nextLong() >> r.nextInt(64);
            }
            // beyond 64 bits, and the edges just past them (BigInteger in the long range too)
            BigInteger[] big = {BigInteger.ONE.shiftLeft(63), BigInteger.ONE.shiftLeft(64),
                BigInteger.ONE.shiftLeft(63).negate().subtract(BigInteger.ONE), BigInteger.valueOf(7)};
            if (r.nextInt(4) == 0) {
                return big[r.nextInt(big.length)];
            }
            BigInteger v = new BigInteger(65 + r.nextInt(1000), r);
            return r.nextBoolean() ? v.negate() : v;
        }

        Double pyFloat() {
            double[] specials = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, -0.0, 0.0,
                Double.MIN_VALUE, Double.MIN_NORMAL, Double.MAX_VALUE, -Double.MAX_VALUE, 1e-310, 0.913, 1.0 / 3};
            int k = r.nextInt(3);
            if (k == 0) {
                return specials[r.nextInt(specials.length)];
            }
            if (k == 1) {
                return r.nextGaussian() * Math.pow(10, r.nextInt(20) - 10);
            }
            return Double.longBitsToDouble(r.nextLong());
        }

        // --- tensors ----------------------------------------------------------------------

        NewTensor tensor() {
            if (!placed.isEmpty() && chance(0.08)) {
                return placed.get(r.nextInt(placed.size())); // the same tensor object again
            }
            Storage s = !storages.isEmpty() && chance(0.35) ? storages.get(r.nextInt(storages.size())) : newStorage();
            NewTensor base = bases.get(s);
            long[][] v = view(s.numel);
            long[] shape = v[0];
            long[] stride = v[1];
            long offset = v[2][0];
            boolean conj = p.bits && s.bitSafe && s.dt.kind == Kind.COMPLEX && chance(0.4);
            boolean neg = p.bits && s.bitSafe && s.dt.negatable && chance(0.4);
            boolean param = chance(0.15);
            // torch's _rebuild_tensor_v3 (the dtypes added after 1.13, complex32) cannot rebuild a
            // plain tensor that requires grad: see the probe_v3_requires_grad file
            boolean rg = s.dt.grad && (param || s.dt.since == 0) && chance(param ? 0.6 : 0.2);
            NewTensor t = base.view(offset, shape, stride).withConj(conj).withNeg(neg);
            t = param ? t.asParameter(rg) : t.withRequiresGrad(rg);
            infos.put(t, new TInfo(s, shape, stride, offset, rg, param, conj, neg));
            placed.add(t);
            return t;
        }

        Storage newStorage() {
            Dt dt = p.dtypes.get(r.nextInt(p.dtypes.size()));
            int k = r.nextInt(100);
            long n = k < 5 ? 0 : k < 40 ? 1 + r.nextInt(8) : k < 92 ? 9 + r.nextInt(56) : 65 + r.nextInt(240);
            // Where conj/neg views may come, no NaN and no zero: torch resolves the bits with
            // arithmetic, which may canonicalize a NaN's payload (half, bfloat16) and, in its
            // vectorized complex neg (0 - x), turns +0.0 into +0.0 where the scalar path gives -0.0.
            boolean bitSafe = p.bits && (dt.kind == Kind.COMPLEX || dt.negatable) && chance(0.5);
            byte[] raw = new byte[Math.toIntExact(n * dt.size)];
            for (int i = 0; i < n; i++) {
                element(dt, bitSafe, raw, i * dt.size);
            }
            Storage s = new Storage("s" + storages.size(), dt, raw, n, bitSafe);
            storages.add(s);
            bases.put(s, NewTensor.ofBytes(raw, dt.dtype(), n));
            return s;
        }

        void element(Dt dt, boolean bitSafe, byte[] b, int at) {
            switch (dt.kind) {
                case BOOL -> b[at] = (byte) r.nextInt(2);
                case SINT, UINT -> {
                    long v;
                    int k = r.nextInt(10);
                    if (k < 2) { // the extremes: 0, -1 (all ones), min and max of signed and unsigned
                        long[] e = {0, -1, 1L << (8 * dt.size - 1), ~(1L << (8 * dt.size - 1)), 1};
                        v = e[r.nextInt(e.length)];
                    } else if (k < 5) {
                        v = r.nextInt(600) - 300;
                    } else {
                        v = r.nextLong();
                    }
                    put(b, at, v, dt.size);
                }
                case IEEE -> put(b, at, ieee(dt.exp, dt.mant, bitSafe), dt.size);
                case COMPLEX -> {
                    put(b, at, ieee(dt.exp, dt.mant, bitSafe), dt.size / 2);
                    put(b, at + dt.size / 2, ieee(dt.exp, dt.mant, bitSafe), dt.size / 2);
                }
                case RAW -> b[at] = (byte) r.nextInt(256);
            }
        }

        static void put(byte[] b, int at, long v, int size) {
            for (int i = 0; i < size; i++) {
                b[at + i] = (byte) (v >>> (8 * i));
            }
        }

        /** The bits of a random IEEE value with e exponent and m mantissa bits, specials included. */
        long ieee(int e, int m, boolean bitSafe) {
            int w = 1 + e + m;
            long mantMask = (1L << m) - 1;
            long expMax = (1L << e) - 1;
            long sign = r.nextBoolean() ? 1L << (w - 1) : 0;
            long bits = switch (r.nextInt(12)) {
                case 0 -> sign; // +-0
                case 1 -> sign | expMax << m; // +-inf
                case 2 -> expMax << m | 1L << (m - 1); // the quiet NaN torch makes
                case 3 -> sign | (r.nextLong() & mantMask); // subnormal
                case 4 -> sign | 1; // smallest subnormal
                case 5 -> sign | (expMax - 1) << m | mantMask; // +-max
                case 6, 7, 8 -> sign | ((expMax >> 1) + r.nextInt(9) - 4) << m | (r.nextLong() & mantMask); // near 1
                default -> w == 64 ? r.nextLong() : r.nextLong() & ((1L << w) - 1); // any bits, NaN payloads included
            };
            if (bitSafe && (bits >>> m & expMax) == expMax && (bits & mantMask) != 0) {
                bits &= ~mantMask; // NaN -> inf of the same sign
            }
            if (bitSafe && (bits & ((1L << (w - 1)) - 1)) == 0) {
                bits |= 1; // +-0 -> the smallest subnormal of the same sign
            }
            return bits;
        }

        /** {shape, stride, {offset}} of a random view that fits a storage of n elements. */
        long[][] view(long n) {
            for (int attempt = 0; attempt < 30; attempt++) {
                int rank = r.nextInt(100) < 12 ? 0 : 1 + r.nextInt(4);
                long[] shape = new long[rank];
                for (int i = 0; i < rank; i++) {
                    shape[i] = r.nextInt(100) < 6 ? 0 : 1 + r.nextInt(attempt < 15 ? 5 : 3);
                }
                long[] stride = new long[rank];
                long acc = 1;
                for (int i = rank - 1; i >= 0; i--) { // row-major, with steps and expands
                    int k = r.nextInt(10);
                    stride[i] = k == 0 ? 0 : k == 1 ? acc * (2 + r.nextInt(2)) : k == 2 ? r.nextInt(7) : acc;
                    acc = Math.max(acc, stride[i] * Math.max(shape[i], 1));
                }
                if (rank > 1 && chance(0.35)) { // transposes/permutes: the same sizes and strides, reordered
                    for (int i = rank - 1; i > 0; i--) {
                        int j = r.nextInt(i + 1);
                        long a = shape[i];
                        shape[i] = shape[j];
                        shape[j] = a;
                        a = stride[i];
                        stride[i] = stride[j];
                        stride[j] = a;
                    }
                }
                long numel = 1;
                long extent = 1;
                for (int i = 0; i < rank; i++) {
                    numel *= shape[i];
                    extent += (shape[i] - 1) * stride[i];
                }
                if (numel == 0) {
                    return new long[][] {shape, stride, {n == 0 ? 0 : r.nextInt(Math.toIntExact(n + 1))}};
                }
                if (extent <= n) {
                    return new long[][] {shape, stride, {r.nextInt(Math.toIntExact(n - extent + 1))}};
                }
            }
            // narrow: a contiguous 1-d piece
            long len = n == 0 ? 0 : r.nextInt(Math.toIntExact(n + 1));
            return new long[][] {{len}, {1}, {n == 0 ? 0 : r.nextInt(Math.toIntExact(n - len + 1))}};
        }

        // --- the expected manifest --------------------------------------------------------

        Map<String, Object> expected(Object tree, String file, String notes) {
            List<Object> values = new ArrayList<>();
            List<Object> tensors = new ArrayList<>();
            walk(tree, "", values, tensors);
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("file", file);
            m.put("notes", notes);
            m.put("tensors", tensors);
            m.put("values", values);
            return m;
        }

        static String child(String name, String part) {
            return name.isEmpty() ? part : name + "." + part;
        }

        void walk(Object o, String name, List<Object> values, List<Object> tensors) {
            Map<String, Object> v = new LinkedHashMap<>();
            v.put("name", name);
            values.add(v);
            if (o instanceof NewTensor t) {
                v.put("type", "tensor");
                tensors.add(tensorEntry(infos.get(t), name));
            } else if (o == null) {
                v.put("type", "none");
            } else if (o instanceof Boolean b) {
                v.put("type", "bool");
                v.put("value", b);
            } else if (o instanceof Long || o instanceof BigInteger) {
                v.put("type", "int");
                v.put("value", o.toString());
            } else if (o instanceof Double d) {
                v.put("type", "float");
                v.put("value", Double.toString(d)); // check_written.py compares repr(float(value))
            } else if (o instanceof String s) {
                v.put("type", "str");
                v.put("value", s);
            } else if (o instanceof byte[] b) {
                v.put("type", "bytes");
                v.put("value", HexFormat.of().formatHex(b));
            } else if (o instanceof PyDict d) {
                dict(v, d.pythonClass().equals(PyDict.DICT) ? "dict" : "collections.OrderedDict", d.items());
                if (d.attributes().containsKey("_metadata")) {
                    v.put("metadata", plain(d.attributes().get("_metadata")));
                }
                children(d.items(), name, values, tensors);
            } else if (o instanceof Map<?, ?> m) {
                dict(v, "dict", m);
                children(m, name, values, tensors);
            } else if (o instanceof List<?> l) {
                v.put("type", "list");
                v.put("len", l.size());
                for (int i = 0; i < l.size(); i++) {
                    walk(l.get(i), child(name, Integer.toString(i)), values, tensors);
                }
            } else if (o instanceof PyTuple t) {
                v.put("type", "tuple");
                v.put("len", t.size());
                for (int i = 0; i < t.size(); i++) {
                    walk(t.get(i), child(name, Integer.toString(i)), values, tensors);
                }
            } else {
                throw new IllegalArgumentException(name + ": " + o.getClass());
            }
        }

        private static void dict(Map<String, Object> v, String cls, Map<?, ?> items) {
            v.put("type", "dict");
            v.put("class", cls);
            List<Object> keys = new ArrayList<>();
            for (Object k : items.keySet()) {
                keys.add(List.of(keyType(k), keyStr(k)));
            }
            v.put("keys", keys);
        }

        private void children(Map<?, ?> items, String name, List<Object> values, List<Object> tensors) {
            for (Map.Entry<?, ?> e : items.entrySet()) {
                walk(e.getValue(), child(name, keyStr(e.getKey())), values, tensors);
            }
        }

        /** _metadata as tbmanifest.py's _json_generic gives it. */
        static Object plain(Object o) {
            if (o instanceof PyDict d) {
                Map<String, Object> m = new LinkedHashMap<>();
                d.items().forEach((k, x) -> m.put(String.valueOf(k), plain(x)));
                return m;
            }
            return o;
        }

        Map<String, Object> tensorEntry(TInfo i, String name) {
            Map<String, Object> t = new LinkedHashMap<>();
            t.put("name", name);
            t.put("dtype", i.s.dt.name);
            t.put("shape", i.shape);
            t.put("stride", i.stride);
            t.put("storage_offset", i.offset);
            t.put("storage_key", i.s.key);
            t.put("storage_location", "cpu");
            t.put("storage_nbytes", i.s.raw.length);
            t.put("requires_grad", i.requiresGrad);
            t.put("is_parameter", i.param);
            t.put("conj", i.conj);
            t.put("neg", i.neg);
            t.put("sha256", sha256(logical(i.s, i.shape, i.stride, i.offset, i.conj, i.neg)));
            return t;
        }
    }
}
