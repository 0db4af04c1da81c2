package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.cli.Main;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code convert} writes a read checkpoint's stored records as they are: the bytes copied
 * file-to-file (records of 64 KiB and more go through FileChannel.transferTo, in 16 MiB steps;
 * smaller ones through one positioned read) and the CRC-32 taken from the source, not computed
 * again. Python's {@code zipfile} is the judge of the CRCs; torch 2.14 of the values.
 *
 * <p>The checkpoint, written by torch 2.14, has a storage of 17 MiB + 4 bytes (more than one copy
 * step, shared by a view), one of 100 KB, one of 64 bytes and an empty one.
 */
class ConvertCopyTest {
    @TempDir
    Path tmp;

    private static final String MAKE = String.join("\n",
            "import sys, torch",
            "g = torch.Generator().manual_seed(5)",
            "big = torch.rand(17 * 2**18 + 1, generator=g)",
            "sd = {'big': big, 'mid': torch.rand(25_000, generator=g), 'small': torch.rand(16, generator=g),",
            "      'empty': torch.zeros(0), 'view': big[10:20]}",
            "torch.save(sd, sys.argv[1])");

    /** Copies argv[1] to argv[2] with the CRC of each record named after them XOR 0xDEADBEEF, in both places zip keeps it. */
    private static final String PLANT = String.join("\n",
            "import sys, struct, zipfile",
            "src, dst, names = sys.argv[1], sys.argv[2], sys.argv[3:]",
            "b = bytearray(open(src, 'rb').read())",
            "z = zipfile.ZipFile(src)",
            "prefix = z.namelist()[0].split('/')[0] + '/'",
            "for rec in names:",
            "    i = z.getinfo(prefix + rec)",
            "    new = i.CRC ^ 0xDEADBEEF",
            "    h = i.header_offset",
            "    n, e = struct.unpack_from('<HH', b, h + 26)",
            "    dd = h + 30 + n + e + i.compress_size",
            "    assert b[dd:dd + 4] == b'PK\\x07\\x08', 'data descriptor'",
            "    struct.pack_into('<I', b, dd + 4, new)",
            "    c, found = z.start_dir, 0",
            "    while b[c:c + 4] == b'PK\\x01\\x02':",
            "        n, m, k = struct.unpack_from('<HHH', b, c + 28)",
            "        if bytes(b[c + 46:c + 46 + n]).decode() == i.filename:",
            "            struct.pack_into('<I', b, c + 16, new)",
            "            found += 1",
            "        c += 46 + n + m + k",
            "    assert found == 1, 'central entry'",
            "open(dst, 'wb').write(b)");

    /**
     * argv: source, converted, then the records whose CRC was planted wrong in the source. Every
     * record's raw bytes and CRC are the source's (the serialization id aside); Python's CRC of
     * every record matches the converted file's, except exactly the planted ones; torch loads
     * the same values.
     */
    private static final String CHECK = String.join("\n",
            "import sys, struct, zipfile, zlib, torch",
            "src, dst, planted = sys.argv[1], sys.argv[2], set(sys.argv[3:])",
            "def records(path):",
            "    b = open(path, 'rb').read()",
            "    z = zipfile.ZipFile(path)",
            "    out = {}",
            "    for i in z.infolist():",
            "        n, e = struct.unpack_from('<HH', b, i.header_offset + 26)",
            "        d = i.header_offset + 30 + n + e",
            "        out[i.filename.split('/', 1)[1]] = (b[d:d + i.compress_size], i.CRC)",
            "    return z, out",
            "zs, a = records(src)",
            "zd, b = records(dst)",
            "assert list(a) == list(b), (list(a), list(b))",
            "assert max(len(v[0]) for v in b.values()) > 16 << 20",
            "for name in a:",
            "    if name != '.data/serialization_id':",
            "        assert a[name][0] == b[name][0], name + ': bytes differ'",
            "        assert a[name][1] == b[name][1], name + ': CRC differs from the source'",
            "for name, (data, crc) in b.items():",
            "    assert (zlib.crc32(data) == crc) == (name not in planted), name + ': CRC ' + hex(crc)",
            "if not planted:",
            "    assert zd.testzip() is None, zd.testzip()",
            "x = torch.load(src, weights_only=True)",
            "y = torch.load(dst, weights_only=True)",
            "assert list(x) == list(y)",
            "assert all(torch.equal(x[k], y[k]) for k in x)",
            "assert y['view'].untyped_storage().data_ptr() == y['big'].untyped_storage().data_ptr()",
            "print('checked', len(b), 'records')");

    @Test
    void convertCopiesStoredRecordsWithCrcsPythonsZipfileAccepts() throws Exception {
        TorchMatrix.Torch torch = TorchMatrix.require("2.14.1");
        Path in = Files.createDirectories(tmp.resolve("in")).resolve("ckpt.pt");
        torch.run(120, "-c", MAKE, in.toString());
        Path out = Files.createDirectories(tmp.resolve("out")).resolve("ckpt.pt");

        assertEquals(0, Main.run("convert", in.toString(), out.toString()));

        String said = torch.run(120, "-c", CHECK, in.toString(), out.toString());
        assertTrue(said.contains("checked 10 records"), said);
    }

    /**
     * The CRCs are carried, not recomputed: a source whose CRCs are wrong (torch never checks
     * them, and loads it) converts to a file with the same wrong CRCs over the same bytes. One
     * planted record goes through transferTo (17 MiB), one through the positioned read (64 bytes).
     */
    @Test
    void aWrongCrcInTheSourceIsKeptNotRecomputed() throws Exception {
        TorchMatrix.Torch torch = TorchMatrix.require("2.14.1");
        Path made = Files.createDirectories(tmp.resolve("made")).resolve("ckpt.pt");
        torch.run(120, "-c", MAKE, made.toString());
        Path in = Files.createDirectories(tmp.resolve("in")).resolve("ckpt.pt");
        torch.run(120, "-c", PLANT, made.toString(), in.toString(), "data/0", "data/2");
        Path out = Files.createDirectories(tmp.resolve("out")).resolve("ckpt.pt");

        assertEquals(0, Main.run("convert", in.toString(), out.toString()));

        String said = torch.run(120, "-c", CHECK, in.toString(), out.toString(), "data/0", "data/2");
        assertTrue(said.contains("checked 10 records"), said);
    }
}
