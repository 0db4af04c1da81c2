package io.torchbridge.reader;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/** Writes small checkpoint archives from hand-made records (java.util.zip, STORED). */
final class Crafted {
    private final Map<String, byte[]> records = new LinkedHashMap<>();
    private String archive = "archive";

    static Crafted checkpoint(byte[] pickle) {
        Crafted c = new Crafted();
        c.records.put("data.pkl", pickle);
        return c;
    }

    Crafted archive(String name) {
        this.archive = name;
        return this;
    }

    Crafted record(String name, byte[] data) {
        records.put(name, data);
        return this;
    }

    Crafted storage(String key, byte[] data) {
        return record("data/" + key, data);
    }

    Crafted without(String name) {
        records.remove(name);
        return this;
    }

    Path write(Path dir, String file) throws IOException {
        records.putIfAbsent("version", "3\n".getBytes(StandardCharsets.US_ASCII));
        return Files.write(dir.resolve(file), zip(archive, records));
    }

    /** A STORED zip of {@code records} under the folder {@code archive}. */
    static byte[] zip(String archive, Map<String, byte[]> records) throws IOException {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
            for (Map.Entry<String, byte[]> r : records.entrySet()) {
                ZipEntry e = new ZipEntry(archive + "/" + r.getKey());
                e.setMethod(ZipEntry.STORED);
                e.setSize(r.getValue().length);
                CRC32 crc = new CRC32();
                crc.update(r.getValue());
                e.setCrc(crc.getValue());
                zip.putNextEntry(e);
                zip.write(r.getValue());
                zip.closeEntry();
            }
        }
        return bytes.toByteArray();
    }

    /** Opens a checkpoint whose data.pkl is {@code pickle}, with no storages. */
    static Object root(Path dir, byte[] pickle) throws IOException {
        return root(dir, pickle, ReadOptions.defaults());
    }

    static Object root(Path dir, byte[] pickle, ReadOptions options) throws IOException {
        Path p = checkpoint(pickle).write(dir, "t" + System.nanoTime() + ".pt");
        try (Checkpoint c = Checkpoint.open(p, options)) {
            return c.root();
        }
    }
}
