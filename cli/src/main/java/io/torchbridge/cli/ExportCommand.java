package io.torchbridge.cli;

import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.Tensor;
import io.torchbridge.reader.TensorEntry;
import io.torchbridge.writer.NumpyWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code torchbridge export FILE NAME... OUT.npy|OUT.npz}: tensors in NumPy's formats ({@link NumpyWriter}). */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = {"Writes tensors of a checkpoint in NumPy's formats, which DJL and most Java ML tools read.",
                "OUT.npy: the one tensor NAME (numpy.save). OUT.npz: the tensors NAME..., or every tensor when no "
                        + "NAME is given (numpy.savez: stored NAME.npy records).",
                "bfloat16, float8, complex32 and quantized tensors have no numpy dtype and are refused, "
                        + "unless --raw-bits writes their bits (or integers) as unsigned integers."})
final class ExportCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "FILE", description = "The checkpoint.")
    Path file;

    @Parameters(index = "1..*", arity = "1..*", paramLabel = "NAME... OUT",
            description = "Tensor names, then the output file (.npy for one tensor, .npz for any number).")
    List<String> rest = new ArrayList<>();

    @Option(names = "--raw-bits", description = "Write dtypes numpy lacks as the unsigned integers of their bits "
            + "(bfloat16 as uint16, float8 as uint8, complex32 as uint32) and quantized tensors as their integers.")
    boolean rawBits;

    @Mixin
    ReaderOptions reader = new ReaderOptions();

    @Override
    public Integer call() {
        Path out = Path.of(rest.get(rest.size() - 1));
        List<String> names = rest.subList(0, rest.size() - 1);
        String lower = out.getFileName() == null ? "" : out.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
        boolean npz = lower.endsWith(".npz");
        if (!npz && !lower.endsWith(".npy")) {
            System.err.println("torchbridge export: " + out + ": the output must end in .npy or .npz");
            return 2;
        }
        if (!npz && names.size() != 1) {
            System.err.println("torchbridge export: a .npy holds one tensor: give exactly one NAME before " + out
                    + " (or write a .npz)");
            return 2;
        }
        try (Checkpoint ckpt = Checkpoint.open(file, reader.readOptions())) {
            if (!npz) {
                NumpyWriter.saveNpy(ckpt.tensor(names.get(0)), out, rawBits);
                return 0;
            }
            Map<String, Tensor> arrays = new LinkedHashMap<>();
            if (names.isEmpty()) {
                for (TensorEntry e : ckpt.entries()) {
                    // numpy.savez calls a positional array arr_0; a bare tensor's name is ""
                    String key = e.name().isEmpty() ? "arr_0" : e.name();
                    if (arrays.putIfAbsent(key, e.tensor()) != null) {
                        throw new IllegalArgumentException("two tensors are named '" + key
                                + "'; name the ones to export");
                    }
                }
            } else {
                for (String n : names) {
                    arrays.put(n, ckpt.tensor(n));
                }
            }
            NumpyWriter.saveNpz(arrays, out, rawBits);
            return 0;
        } catch (CheckpointException e) {
            System.err.println("torchbridge export: " + file + ": " + e.kind() + ": " + e.getMessage());
            return 1;
        } catch (IOException e) {
            System.err.println("torchbridge export: cannot write " + out + ": " + e.getMessage());
            return 1;
        } catch (IllegalArgumentException | java.util.NoSuchElementException e) {
            System.err.println("torchbridge export: " + e.getMessage());
            return 1;
        }
    }
}
