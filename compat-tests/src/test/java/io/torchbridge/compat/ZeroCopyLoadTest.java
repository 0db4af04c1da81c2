package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.cli.demo.DemoModels;
import io.torchbridge.libtorch.LoadReport;
import io.torchbridge.libtorch.StateDictLoader;
import io.torchbridge.reader.Checkpoint;
import io.torchbridge.testing.Repo;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code StateDictLoader.builder().zeroCopy(true)}: module tensors become copy-on-write views of
 * the file (Python's {@code torch.load(mmap=True)} + {@code assign=True}), with exactly the values
 * torch 2.14's {@code load_state_dict} leaves in the same model; writes stay in the process; the
 * mapping outlives the checkpoint; and whatever cannot be a view (a cast, a non-contiguous tensor,
 * a file replaced since it was opened) is copied instead, and the report says which is which.
 * Every expected byte comes from {@code fixtures/zero_copy_cases.py}, run by real torch.
 */
class ZeroCopyLoadTest {
    private static final StateDictLoader ZERO_COPY = StateDictLoader.builder().zeroCopy(true).build();

    @TempDir
    static Path tmp;

    static Path dir;

    @BeforeAll
    static void torchWritesTheCases() throws Exception {
        dir = Files.createDirectories(tmp.resolve("cases"));
        TorchMatrix.require("2.14.1").run(300, Repo.fixtures().resolve("zero_copy_cases.py").toString(), dir.toString());
    }

    @Test
    void everyEntryBecomesAViewOfTheFileWithTorchsValues() throws Exception {
        for (String file : List.of("plain.pt", "plain.safetensors")) {
            Module m = new DemoModels.CNN();
            try (Checkpoint ckpt = Checkpoint.open(dir.resolve(file))) {
                LoadReport r = ZERO_COPY.load(m, ckpt);
                assertEquals(16, r.loadedKeys().size(), file);
                assertEquals(r.loadedKeys(), r.mappedKeys(), file + ": every entry can be a view");
            }
            assertTorchsBytes(m, dir.resolve("expected/plain"), file);
            assertTrue(Files.readString(Path.of("/proc/self/maps")).contains(dir.resolve(file).toString()), file + " is mapped");
        }
    }

    @Test
    void writesStayInTheProcessAndNeverReachTheFile() throws Exception {
        Path file = tmp.resolve("read-only.pt");
        Files.copy(dir.resolve("plain.pt"), file, StandardCopyOption.REPLACE_EXISTING);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("r--r--r--"));
        byte[] before = Files.readAllBytes(file);
        DemoModels.CNN m = new DemoModels.CNN();
        try (Checkpoint ckpt = Checkpoint.open(file)) {
            assertEquals(16, ZERO_COPY.load(m, ckpt).mappedKeys().size());
        }
        try (NoGradGuard g = new NoGradGuard(); Scalar two = new Scalar(2)) {
            forEach(m, t -> t.mul_(two)); // in place: each page is copied for this process on write
        }
        assertTorchsBytes(m, dir.resolve("doubled"), "after mul_(2)");
        assertArrayEquals(before, Files.readAllBytes(file), "the file is unchanged");
        // and a second load of the same file sees the file's values, not the first model's
        DemoModels.CNN again = new DemoModels.CNN();
        try (Checkpoint ckpt = Checkpoint.open(file)) {
            ZERO_COPY.load(again, ckpt);
        }
        assertTorchsBytes(again, dir.resolve("expected/plain"), "loaded again");
    }

    @Test
    void theMappingOutlivesTheCheckpointAndTheModelRunsAsInTorch() throws Exception {
        DemoModels.CNN m = new DemoModels.CNN();
        try (Checkpoint ckpt = Checkpoint.open(dir.resolve("plain.pt"))) {
            ZERO_COPY.load(m, ckpt);
        }
        for (int i = 0; i < 3; i++) {
            System.gc(); // the reader's own buffers may go; the views are libtorch's
        }
        assertTorchsBytes(m, dir.resolve("expected/plain"), "after close");
        m.eval();
        try (NoGradGuard g = new NoGradGuard(); Tensor x = fromBytes(dir.resolve("eval_x.bin"), 4, 1, 12, 12);
             Tensor y = m.forward(x)) {
            float[] want = floats(Files.readAllBytes(dir.resolve("eval_y.bin")));
            float[] got = floats(bytes(y));
            assertEquals(want.length, got.length);
            double max = 0;
            for (int i = 0; i < want.length; i++) {
                max = Math.max(max, Math.abs(want[i] - got[i]));
            }
            System.out.printf("zero-copy CNN eval: max |java - torch| = %.3g%n", max);
            assertTrue(max <= 1e-5, "eval output differs by " + max);
        }
    }

    @Test
    void aFileReplacedSinceItWasOpenedIsCopiedFromTheOneOpened() throws Exception {
        Path file = tmp.resolve("replaced.pt");
        Files.copy(dir.resolve("plain.pt"), file, StandardCopyOption.REPLACE_EXISTING);
        Path other = tmp.resolve("other-copy.pt");
        Files.copy(dir.resolve("other.pt"), other, StandardCopyOption.REPLACE_EXISTING);
        DemoModels.CNN m = new DemoModels.CNN();
        try (Checkpoint ckpt = Checkpoint.open(file)) {
            Files.move(other, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            LoadReport r = ZERO_COPY.load(m, ckpt);
            assertEquals(16, r.loadedKeys().size());
            assertEquals(List.of(), r.mappedKeys(), "nothing mapped from the file now at the path");
        }
        assertTorchsBytes(m, dir.resolve("expected/plain"), "the opened file's values");
    }

    @Test
    void whatCannotBeAViewIsCopiedAndTheReportSaysSo() throws Exception {
        DemoModels.CNN m = new DemoModels.CNN();
        try (Checkpoint ckpt = Checkpoint.open(dir.resolve("mixed.pt"))) {
            LoadReport r = ZERO_COPY.load(m, ckpt);
            assertEquals(List.of("conv1.weight"), r.castKeys());
            List<String> copied = new ArrayList<>(r.loadedKeys());
            copied.removeAll(r.mappedKeys());
            // float64 into float32 is a cast; the transposed view is not contiguous; the slice at
            // a storage offset is contiguous and becomes a view at that offset
            assertEquals(List.of("conv1.weight", "fc.weight"), copied);
            assertTrue(r.mappedKeys().contains("bn1.running_mean"));
            // saved 1-d with one element, a view of it in the 0-d buffer keeps the buffer's shape
            assertTrue(r.mappedKeys().contains("bn2.num_batches_tracked"));
            assertEquals(0, m.named_buffers(true).get("bn2.num_batches_tracked").dim());
        }
        assertTorchsBytes(m, dir.resolve("expected/mixed"), "mixed.pt");
    }

    @Test
    void aModuleLoadedZeroCopyLoadsZeroCopyAgain() throws Exception {
        DemoModels.CNN m = new DemoModels.CNN();
        for (String file : List.of("plain", "other")) {
            try (Checkpoint ckpt = Checkpoint.open(dir.resolve(file + ".pt"))) {
                // the second time every tensor views the first file's mapping: re-pointed, not copied into
                assertEquals(16, ZERO_COPY.load(m, ckpt).mappedKeys().size(), file);
            }
            assertTorchsBytes(m, dir.resolve("expected/" + file), file);
        }
    }

    @Test
    void aTensorThatViewsAnotherBufferIsCopiedIntoAndKeepsItsAliasing() throws Exception {
        DemoModels.CNN m = new DemoModels.CNN();
        Tensor fcWeight = m.named_parameters(true).get("fc.weight");
        long n = fcWeight.numel();
        Tensor buffer;
        try (TensorOptions o = new TensorOptions(torch.ScalarType.Float)) {
            buffer = torch.empty(new long[] {n + 7}, o, null).zero_(); // a flat buffer the weight is a view of
        }
        try (NoGradGuard g = new NoGradGuard(); Tensor part = buffer.narrow(0, 7, n);
             Tensor view = part.view(fcWeight.sizes().vec().get())) {
            fcWeight.set_data(view);
        }
        try (Checkpoint ckpt = Checkpoint.open(dir.resolve("plain.pt"))) {
            LoadReport r = ZERO_COPY.load(m, ckpt);
            assertEquals(15, r.mappedKeys().size());
            assertTrue(!r.mappedKeys().contains("fc.weight") && r.loadedKeys().contains("fc.weight"));
        }
        assertTorchsBytes(m, dir.resolve("expected/plain"), "with fc.weight in a buffer");
        try (Tensor part = buffer.narrow(0, 7, n)) {
            assertArrayEquals(Files.readAllBytes(dir.resolve("expected/plain/fc.weight.bin")), bytes(part),
                    "the buffer holds the loaded values: the view was copied into, not replaced");
        }
    }

    /** Each of the module's tensors, byte for byte, against torch's file of it. */
    private static void assertTorchsBytes(Module m, Path expected, String what) throws Exception {
        List<String> seen = new ArrayList<>();
        forEachNamed(m, (name, t) -> {
            try {
                assertArrayEquals(Files.readAllBytes(expected.resolve(name + ".bin")), bytes(t), what + ": " + name);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            seen.add(name);
        });
        try (var files = Files.list(expected)) {
            assertEquals(files.count(), seen.size(), what + ": every tensor compared");
        }
    }

    private interface Named {
        void accept(String name, Tensor t);
    }

    private static void forEachNamed(Module m, Named f) {
        for (StringTensorDict d : List.of(m.named_parameters(true), m.named_buffers(true))) {
            for (long i = 0; i < d.size(); i++) {
                f.accept(d.get(i).key().getString(), d.get(i).value());
            }
        }
    }

    private static void forEach(Module m, java.util.function.Consumer<Tensor> f) {
        forEachNamed(m, (n, t) -> f.accept(t));
    }

    static byte[] bytes(Tensor t) {
        try (Tensor c = t.contiguous()) {
            long n = c.nbytes();
            byte[] b = new byte[Math.toIntExact(n)];
            try (BytePointer p = new BytePointer(c.data_ptr())) {
                p.capacity(n).get(b);
            }
            return b;
        }
    }

    private static float[] floats(byte[] b) {
        float[] f = new float[b.length / 4];
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(f);
        return f;
    }

    private static Tensor fromBytes(Path file, long... shape) throws Exception {
        byte[] b = Files.readAllBytes(file);
        Tensor t;
        try (TensorOptions o = new TensorOptions(torch.ScalarType.Float)) {
            t = torch.empty(shape, o, null);
        }
        try (BytePointer p = new BytePointer(t.data_ptr())) {
            p.capacity(b.length).put(b);
        }
        return t;
    }
}
