package io.torchbridge.testing;

import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.ReadOptions;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** A small checkpoint archive from hand-made records, written by {@link TestZip} (every record STORED). */
public final class Crafted {
    private final Map<String, byte[]> records = new LinkedHashMap<>();
    private String archive = "archive";

    private Crafted() {
    }

    /** A checkpoint whose data.pkl is {@code pickle}; {@code version} is added on writing unless set. */
    public static Crafted checkpoint(byte[] pickle) {
        Crafted c = new Crafted();
        c.records.put("data.pkl", pickle);
        return c;
    }

    public Crafted archive(String name) {
        this.archive = name;
        return this;
    }

    public Crafted record(String name, byte[] data) {
        records.put(name, data);
        return this;
    }

    public Crafted storage(String key, byte[] data) {
        return record("data/" + key, data);
    }

    public Crafted without(String name) {
        records.remove(name);
        return this;
    }

    public Path write(Path dir, String file) throws IOException {
        records.putIfAbsent("version", "3\n".getBytes(StandardCharsets.US_ASCII));
        return Files.write(dir.resolve(file), zip(archive, records));
    }

    /** A STORED zip of {@code records} under the folder {@code archive}. */
    public static byte[] zip(String archive, Map<String, byte[]> records) throws IOException {
        return TestZip.stored(archive, records);
    }

    /** Opens a checkpoint whose data.pkl is {@code pickle}, with no storages. */
    public static Object root(Path dir, byte[] pickle) throws IOException {
        return root(dir, pickle, ReadOptions.defaults());
    }

    public static Object root(Path dir, byte[] pickle, ReadOptions options) throws IOException {
        Path p = checkpoint(pickle).write(dir, "t" + System.nanoTime() + ".pt");
        try (Checkpoint c = Checkpoint.open(p, options)) {
            return c.root();
        }
    }
}
