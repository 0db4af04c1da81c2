package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.DType;
import io.torchbridge.reader.Tensor;
import io.torchbridge.writer.CheckpointWriter;
import io.torchbridge.writer.NewTensor;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A storage over 4 GiB (zip64 sizes) followed by one whose local header sits past 4 GiB (zip64
 * offsets): written by us, read by us, and opened by real torch with mmap=True, which checks the
 * planted values. The source is a sparse file, so only the written checkpoint costs disk (4.5 GB,
 * deleted after).
 */
class WriterZip64Test {
    @TempDir
    Path tmp;

    static final long BIG = 1_150_000_000L; // float32 elements: 4.6 GB > 4 GiB
    static final long[] PLANTED = {0, 536_870_911, 536_870_912, 1_073_741_824, BIG - 1};

    @Test
    void overFourGigabytesRoundTripsThroughTorch() throws Exception {
        TorchMatrix.Torch torch = TorchMatrix.require("2.14.1");
        Path source = tmp.resolve("source.bin");
        try (RandomAccessFile raf = new RandomAccessFile(source.toFile(), "rw")) {
            raf.setLength(BIG * 4);
        }
        List<ByteBuffer> chunks = new ArrayList<>();
        try (FileChannel ch = FileChannel.open(source, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer f = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            for (long e : PLANTED) {
                f.clear();
                f.putFloat(e + 0.5f).flip();
                ch.write(f, e * 4);
            }
            for (long pos = 0; pos < BIG * 4; pos += 1L << 30) {
                chunks.add(ch.map(FileChannel.MapMode.READ_ONLY, pos, Math.min(1L << 30, BIG * 4 - pos))
                        .order(ByteOrder.LITTLE_ENDIAN));
            }
        }
        Map<Object, Object> sd = new LinkedHashMap<>();
        sd.put("big", NewTensor.ofChunks(chunks, DType.FLOAT32, BIG));
        sd.put("after", NewTensor.of(new float[] {1.25f, -2f}, 2)); // its local header lies past 4 GiB
        Path out = tmp.resolve("zip64.pt");
        long t0 = System.nanoTime();
        CheckpointWriter.save(sd, out);
        System.out.printf("wrote %.1f GB in %.1f s%n", Files.size(out) / 1e9, (System.nanoTime() - t0) / 1e9);
        // Every byte of the big storage is in the file (the writer stores, never compresses).
        assertTrue(Files.size(out) > BIG * 4 + 8, "the file holds both storages: " + Files.size(out) + " bytes");
        Files.delete(source);

        try (Checkpoint c = Checkpoint.open(out)) {
            Tensor big = c.tensor("big");
            assertEquals(BIG, big.numel());
            List<ByteBuffer> data = big.dataChunks();
            for (long e : PLANTED) {
                long byteAt = e * 4;
                ByteBuffer chunk = data.get((int) (byteAt >> 30));
                assertEquals(e + 0.5f, chunk.getFloat((int) (byteAt & ((1 << 30) - 1))), "element " + e);
            }
            assertEquals(List.of(1.25f, -2f), List.of(c.tensor("after").toFloatArray()[0], c.tensor("after").toFloatArray()[1]));
        }

        String verdict = torch.run(600, "-c", String.join("\n",
                "import sys, zipfile, torch",
                "z = zipfile.ZipFile(sys.argv[1])",
                "data = [i for i in z.infolist() if i.filename.split('/', 1)[1].startswith('data/')]",
                "print('zip', sorted(i.file_size for i in data), max(i.header_offset for i in data) > 0xFFFFFFFF)",
                "sd = torch.load(sys.argv[1], weights_only=True, mmap=True)",
                "b = sd['big']",
                "print('torch', b.numel(), [b[i].item() for i in " + java.util.Arrays.toString(PLANTED) + "], sd['after'].tolist())"),
                out.toString());
        // float32 rounds e + 0.5 for large e, exactly as Java's (e + 0.5f) did above
        StringBuilder exp = new StringBuilder("torch " + BIG + " [");
        for (int i = 0; i < PLANTED.length; i++) {
            exp.append(i > 0 ? ", " : "").append(pyFloat(PLANTED[i] + 0.5f));
        }
        exp.append("] [1.25, -2.0]");
        // Python's zipfile sees the storages' true sizes (float32: 4 bytes an element), one of them
        // over 4 GiB, and a local header past 4 GiB: both zip64 fields as APPNOTE 4.5.3 defines them.
        assertEquals("zip [8, " + BIG * 4 + "] True",
                verdict.lines().filter(l -> l.startsWith("zip ")).findFirst().orElse(verdict), verdict);
        assertEquals(exp.toString(), verdict.lines().filter(l -> l.startsWith("torch")).findFirst().orElse(verdict),
                verdict);
    }

    private static String pyFloat(float f) {
        double d = f;
        return d == Math.rint(d) ? String.format("%.1f", d) : Double.toString(d);
    }
}
