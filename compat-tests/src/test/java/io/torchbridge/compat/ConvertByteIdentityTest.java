package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.cli.Main;
import io.torchbridge.testing.Repo;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code torchbridge convert} of every protocol-2 file torch 2.14 wrote gives the same bytes, the
 * 40 digits of {@code .data/serialization_id} (and the CRC-32 of those digits, in its data
 * descriptor and central-directory entry) aside.
 */
class ConvertByteIdentityTest {
    @TempDir
    Path tmp;

    @TestFactory
    Stream<DynamicTest> convertOfTorch214FilesIsByteIdentical() throws Exception {
        List<Path> files = new ArrayList<>();
        for (Path mf : FixtureTest.manifests(Repo.torchFolder("2.14.1"))) {
            Manifest m = Manifest.read(mf);
            if (m.json().get("pickle_protocol").asInt() == 2) {
                files.add(m.file());
            }
        }
        assertTrue(files.size() > 30, "expected the torch 2.14 fixture set, found " + files.size());
        return files.stream().map(in -> DynamicTest.dynamicTest(in.getFileName().toString(), () -> {
            Path out = Files.createDirectories(tmp.resolve(in.getFileName() + ".d")).resolve(in.getFileName());
            assertEquals(0, Main.run("convert", in.toString(), out.toString()));
            byte[] want = Files.readAllBytes(in);
            byte[] got = Files.readAllBytes(out);
            assertEquals(want.length, got.length, "length");
            maskSerializationId(want);
            maskSerializationId(got);
            for (int i = 0; i < want.length; i++) {
                if (want[i] != got[i]) {
                    throw new AssertionError(in.getFileName() + ": first difference at byte " + i + ": torch "
                            + hex(want, i) + " / ours " + hex(got, i));
                }
            }
        }));
    }

    /** Zeroes the serialization id's digits and the CRC-32 fields that cover them. */
    static void maskSerializationId(byte[] b) {
        byte[] name = "/.data/serialization_id".getBytes(StandardCharsets.US_ASCII);
        int masked = 0;
        for (int i = 0; i + name.length <= b.length; i++) {
            if (!regionMatches(b, i, name)) {
                continue;
            }
            int nameEnd = i + name.length;
            int start = nameStart(b, i);
            if (start >= 30 && sig(b, start - 30, 0x04034b50)) {
                // local header: data after the extra field, then the data descriptor (sig, crc, ...)
                int extra = u16(b, start - 30 + 28);
                int data = nameEnd + extra;
                Arrays.fill(b, data, data + 40, (byte) 0);
                assertTrue(sig(b, data + 40, 0x08074b50), "data descriptor after the serialization id");
                Arrays.fill(b, data + 44, data + 48, (byte) 0);
                masked++;
            } else if (start >= 46 && sig(b, start - 46, 0x02014b50)) {
                Arrays.fill(b, start - 46 + 16, start - 46 + 20, (byte) 0); // central directory CRC
                masked++;
            }
        }
        assertEquals(2, masked, "found the serialization id's local and central entries");
    }

    private static int nameStart(byte[] b, int slashAt) {
        int s = slashAt;
        while (s > 0 && b[s - 1] >= 0x20 && b[s - 1] < 0x7f) {
            s--;
        }
        // The archive name is printable ASCII here; the header's name length pins the start exactly.
        for (int start = s; start <= slashAt; start++) {
            int len = slashAt + "/.data/serialization_id".length() - start;
            if (start >= 30 && sig(b, start - 30, 0x04034b50) && u16(b, start - 30 + 26) == len) {
                return start;
            }
            if (start >= 46 && sig(b, start - 46, 0x02014b50) && u16(b, start - 46 + 28) == len) {
                return start;
            }
        }
        return -1;
    }

    private static boolean regionMatches(byte[] b, int at, byte[] what) {
        for (int k = 0; k < what.length; k++) {
            if (b[at + k] != what[k]) {
                return false;
            }
        }
        return true;
    }

    private static boolean sig(byte[] b, int at, int sig) {
        return at >= 0 && at + 4 <= b.length && (b[at] & 0xFF | (b[at + 1] & 0xFF) << 8 | (b[at + 2] & 0xFF) << 16
                | (b[at + 3] & 0xFF) << 24) == sig;
    }

    private static int u16(byte[] b, int at) {
        return b[at] & 0xFF | (b[at + 1] & 0xFF) << 8;
    }

    private static String hex(byte[] b, int i) {
        StringBuilder sb = new StringBuilder();
        for (int k = Math.max(0, i - 4); k < Math.min(b.length, i + 8); k++) {
            sb.append(String.format("%02x", b[k] & 0xFF)).append(k == i ? "*" : "").append(' ');
        }
        return sb.toString();
    }
}
