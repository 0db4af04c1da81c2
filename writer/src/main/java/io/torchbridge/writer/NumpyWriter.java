package io.torchbridge.writer;

import io.torchbridge.reader.DType;
import io.torchbridge.reader.Tensor;
import io.torchbridge.reader.TensorLayout;
import io.torchbridge.writer.internal.TorchZipWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;

/**
 * Writes tensors in NumPy's formats, which DJL and most Java ML tools read: a {@code .npy} file
 * per array ({@code numpy.save}) or a {@code .npz} archive of several ({@code numpy.savez}).
 *
 * <p>The {@code .npy} is what {@code numpy.lib.format} writes, byte for byte: the magic
 * {@code \x93NUMPY}, version 1.0 (2.0 when the header needs more than 65535 bytes), the header
 * dict {@code {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }} with numpy's spare room
 * for a growing first axis, padded with spaces and a newline so that the data starts at a multiple
 * of 64 bytes; then the values in row-major order, little-endian. A {@code .npz} is a zip of such
 * files named {@code NAME.npy}, stored uncompressed as {@code numpy.savez} stores them.
 *
 * <p>Dtypes numpy has no type for are refused ({@code bfloat16}, the float8 kinds,
 * {@code complex32}, quantized and packed ones), unless {@code rawBits} is set: then each element's
 * bits are written as the unsigned integer of the same width ({@code bfloat16} as {@code <u2},
 * float8 as {@code |u1}, {@code complex32} as {@code <u4}), a quantized tensor as its integers
 * ({@code int_repr()}), and the caller must remember what they mean. Sparse tensors are written
 * dense; nested tensors are refused. Crash-safe as {@link CheckpointWriter} is: a temporary file
 * beside the target, renamed over it.
 */
public final class NumpyWriter {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    /** numpy/lib/format.py: ARRAY_ALIGN, and GROWTH_AXIS_MAX_DIGITS (spare header room for a growing axis). */
    private static final int ALIGN = 64;
    private static final int GROWTH_AXIS_MAX_DIGITS = 21;

    private NumpyWriter() {
    }

    /**
     * {@code numpy.save(target, t)}; see the class comment for {@code rawBits}.
     *
     * @param t       the tensor; sparse ones are written dense
     * @param target  the {@code .npy} file; replaced atomically
     * @param rawBits write dtypes numpy lacks as unsigned integers of the same width instead of refusing them
     * @throws IOException the file cannot be written
     */
    public static void saveNpy(Tensor t, Path target, boolean rawBits) throws IOException {
        byte[] header = header(t, rawBits);
        atomically(target, ch -> {
            write(ch, ByteBuffer.wrap(header));
            stream(t, ch);
        });
    }

    /**
     * {@code numpy.savez(target, **arrays)}: one record {@code NAME.npy} per entry, in order, stored.
     *
     * @param arrays  the arrays by name, in order
     * @param target  the {@code .npz} file; replaced atomically
     * @param rawBits write dtypes numpy lacks as unsigned integers of the same width instead of refusing them
     * @throws IOException the file cannot be written
     */
    public static void saveNpz(Map<String, Tensor> arrays, Path target, boolean rawBits) throws IOException {
        Map<String, byte[]> headers = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : arrays.entrySet()) {
            headers.put(e.getKey(), header(e.getValue(), rawBits)); // refuse before any file exists
        }
        atomically(target, ch -> {
            TorchZipWriter zip = TorchZipWriter.flat(ch, ALIGN, n -> { });
            for (Map.Entry<String, Tensor> e : arrays.entrySet()) {
                byte[] h = headers.get(e.getKey());
                Tensor t = e.getValue();
                zip.record(e.getKey() + ".npy", h.length + t.info().nbytes(), sink -> {
                    sink.write(ByteBuffer.wrap(h));
                    try {
                        t.stream(piece -> {
                            try {
                                sink.write(piece);
                            } catch (IOException x) {
                                throw new UncheckedIOException(x);
                            }
                        });
                    } catch (UncheckedIOException x) {
                        throw x.getCause();
                    }
                });
            }
            zip.finish();
        });
    }

    /**
     * {@return numpy's type string for {@code d} ({@code dtype.descr}), or null where numpy has none}
     *
     * @param d a checkpoint dtype
     */
    public static String descr(DType d) {
        return switch (d) {
            case FLOAT64 -> "<f8";
            case FLOAT32 -> "<f4";
            case FLOAT16 -> "<f2";
            case INT64 -> "<i8";
            case INT32 -> "<i4";
            case INT16 -> "<i2";
            case INT8 -> "|i1";
            case UINT8 -> "|u1";
            case UINT16 -> "<u2";
            case UINT32 -> "<u4";
            case UINT64 -> "<u8";
            case BOOL -> "|b1";
            case COMPLEX128 -> "<c16";
            case COMPLEX64 -> "<c8";
            default -> null;
        };
    }

    /** The descr written with rawBits: the element's bits as an unsigned integer, or a quantized one's integers. */
    private static String rawDescr(DType d) {
        return switch (d) {
            case BFLOAT16 -> "<u2";
            case COMPLEX32 -> "<u4";
            case FLOAT8_E4M3FN, FLOAT8_E5M2, FLOAT8_E4M3FNUZ, FLOAT8_E5M2FNUZ, FLOAT8_E8M0FNU -> "|u1";
            case QINT8 -> "|i1";
            case QUINT8 -> "|u1";
            case QINT32 -> "<i4";
            default -> null;
        };
    }

    /** The magic, version, length and padded header dict for {@code t}, as numpy.lib.format writes them. */
    static byte[] header(Tensor t, boolean rawBits) {
        if (t.layout() == TensorLayout.NESTED) {
            throw new IllegalArgumentException("tensor '" + t.name() + "' is nested; numpy has no such array "
                    + "(export its components instead)");
        }
        String descr = descr(t.dtype());
        if (descr == null && rawBits) {
            descr = rawDescr(t.dtype());
        }
        if (descr == null) {
            throw new IllegalArgumentException("tensor '" + t.name() + "' is " + t.dtype() + ", which numpy has no dtype for"
                    + (rawDescr(t.dtype()) != null ? "; export its raw bits as " + rawDescr(t.dtype())
                    + " with --raw-bits (rawBits), or convert it to float32 in Python first" : ""));
        }
        long[] shape = t.shape().toArray();
        StringBuilder sb = new StringBuilder("{'descr': '").append(descr).append("', 'fortran_order': False, 'shape': (");
        for (int i = 0; i < shape.length; i++) {
            sb.append(i > 0 ? ", " : "").append(shape[i]);
        }
        sb.append(shape.length == 1 ? ",)" : ")").append(", }");
        if (shape.length > 0) {
            sb.append(" ".repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - Long.toString(shape[0]).length())));
        }
        byte[] dict = sb.toString().getBytes(StandardCharsets.ISO_8859_1);
        int hlen = dict.length + 1;
        // _wrap_header_guess_version: 1.0 while the length fits 2 bytes, else 2.0 with 4
        boolean v1 = hlen + ALIGN - ((8 + 2 + hlen) % ALIGN) <= 0xFFFF;
        int lenBytes = v1 ? 2 : 4;
        int pad = ALIGN - ((8 + lenBytes + hlen) % ALIGN);
        ByteBuffer b = ByteBuffer.allocate(8 + lenBytes + hlen + pad).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).put((byte) (v1 ? 1 : 2)).put((byte) 0);
        if (v1) {
            b.putShort((short) (hlen + pad));
        } else {
            b.putInt(hlen + pad);
        }
        b.put(dict);
        for (int i = 0; i < pad; i++) {
            b.put((byte) ' ');
        }
        b.put((byte) '\n');
        return b.array();
    }

    private interface Body {
        void write(FileChannel ch) throws IOException;
    }

    private static void stream(Tensor t, FileChannel ch) throws IOException {
        try {
            t.stream(piece -> {
                try {
                    write(ch, piece);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    private static void write(FileChannel ch, ByteBuffer b) throws IOException {
        ByteBuffer d = b.duplicate();
        while (d.hasRemaining()) {
            ch.write(d);
        }
    }

    private static void atomically(Path target, Body body) throws IOException {
        AtomicFile.write(target, true, body::write);
    }
}
