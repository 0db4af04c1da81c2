package io.torchbridge.reader.internal.format;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.reader.ReadOptions;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The JSON index of a Hugging Face sharded checkpoint ({@code model.safetensors.index.json},
 * {@code pytorch_model.bin.index.json}): {@code {"metadata": {"total_size": N, ...},
 * "weight_map": {tensor name: shard file, ...}}}, as {@code huggingface_hub}'s
 * {@code save_torch_state_dict} and transformers' {@code save_pretrained} write it.
 *
 * <p>Shard names are resolved against the index's folder and must stay inside it, as
 * {@code huggingface_hub/serialization/_torch.py}, {@code _load_sharded_checkpoint} requires (no
 * drive, no root, no {@code ..} part). The check is on the names only: a shard that is a symbolic
 * link is followed, since the Hugging Face cache's snapshot folders are made of links into its
 * {@code blobs/} folder.
 *
 * @param index      the index file
 * @param weightMap  tensor name to shard name, in the index's order
 * @param shards     the distinct shard names in the order they are read: sorted, as transformers'
 *                   {@code get_checkpoint_shard_files} loads them
 * @param metadata   the {@code metadata} object, each value as text (a number in decimal, a string as
 *                   it is, anything else as JSON); empty where there is none. {@code total_size} is
 *                   only shown, not checked (see {@link #read})
 */
public record ShardIndex(Path index, Map<String, String> weightMap, List<String> shards,
                         Map<String, String> metadata) {
    /** The suffix Hugging Face gives every index ({@code huggingface_hub} {@code save_torch_state_dict}). */
    public static final String SUFFIX = ".index.json";

    /**
     * The one {@code *.index.json} in {@code folder}, or null where it holds none.
     *
     * @throws CheckpointException it holds several, so which one is meant is not clear
     */
    public static Path find(Path folder) throws CheckpointException {
        List<String> found = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(folder, "*" + SUFFIX)) {
            for (Path p : ds) {
                if (Files.isRegularFile(p)) {
                    found.add(p.getFileName().toString());
                }
            }
        } catch (IOException e) {
            throw CheckpointException.of(Kind.IO, "cannot list " + folder + ": " + e).withCause(e);
        }
        if (found.size() > 1) { // safety: shard-one-index
            Collections.sort(found);
            throw CheckpointException.of(Kind.UNSUPPORTED, folder + " holds " + found.size() + " shard indexes ("
                    + String.join(", ", found) + "); open the index you mean");
        }
        return found.isEmpty() ? null : folder.resolve(found.get(0));
    }

    /** Reads and checks the index at {@code path}; its shards are not opened. */
    public static ShardIndex read(Path path, ReadOptions options) throws CheckpointException {
        String record = String.valueOf(path.getFileName());
        byte[] bytes;
        long limit = Math.min(Integer.MAX_VALUE - 9, options.maxPickleBytes());
        try (java.io.InputStream in = Files.newInputStream(path)) {
            // one byte past the limit tells a file over it, without reading (or allocating) more
            bytes = in.readNBytes((int) limit + 1);
        } catch (IOException e) {
            throw CheckpointException.of(Kind.IO, "cannot read " + path + ": " + e).withCause(e);
        }
        if (bytes.length > limit) { // safety: shard-index-size
            throw CheckpointException.at(Kind.LIMIT_EXCEEDED, record, -1, "the index has more than " + limit
                    + " bytes, the most read into memory (ReadOptions.maxPickleBytes)");
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw CheckpointException.at(Kind.MALFORMED, record, -1, "the index is not UTF-8 text").withCause(e);
        }
        if (text.startsWith("\uFEFF")) {
            text = text.substring(1); // Python's json.load refuses a BOM, but editors write one; it is harmless
        }
        Object root = Json.parse(text, record, options.maxNesting());
        Map<?, ?> top = root instanceof Map<?, ?> m ? m : Map.of();
        Map<?, ?> map = top.get("weight_map") instanceof Map<?, ?> m ? m : null;
        if (map == null) { // safety: shard-index-weight-map
            throw CheckpointException.at(Kind.MALFORMED, record, -1,
                    "the index is not a JSON object with a \"weight_map\" object (tensor name to shard file)");
        }
        Map<String, String> weightMap = new LinkedHashMap<>();
        TreeSet<String> shards = new TreeSet<>();
        for (Map.Entry<?, ?> e : map.entrySet()) {
            String name = (String) e.getKey();
            String shard = e.getValue() instanceof String s ? s : null;
            if (shard == null) { // safety: shard-index-file-name
                throw CheckpointException.at(Kind.MALFORMED, record, -1, "weight_map gives tensor '" + name
                        + "' the shard " + show(e.getValue()) + ", not a file name").forTensor(name);
            }
            if (shards.add(shard)) {
                checkInside(record, name, shard);
            }
            weightMap.put(name, shard);
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        Object md = top.get("metadata");
        if (md != null) {
            Map<?, ?> m = md instanceof Map<?, ?> given ? given : null;
            if (m == null) { // safety: shard-index-metadata
                throw CheckpointException.at(Kind.MALFORMED, record, -1, "the index's \"metadata\" is "
                        + show(md) + ", not an object");
            }
            for (Map.Entry<?, ?> e : m.entrySet()) {
                Object v = e.getValue();
                metadata.put((String) e.getKey(), v instanceof String s ? s
                        : v instanceof BigDecimal d ? d.toPlainString() : show(v));
            }
            // total_size is kept as text only: writers count it differently (each storage once,
            // each tensor, file sizes; user metadata may even make it a string) and transformers
            // never checks it, so a disagreeing value must not make a loadable checkpoint unreadable
        }
        return new ShardIndex(path, Collections.unmodifiableMap(weightMap), List.copyOf(shards),
                Collections.unmodifiableMap(metadata));
    }

    /** A JSON value as the messages show it: its type, and a string's or number's text. */
    private static String show(Object v) {
        if (v instanceof String s) {
            return "the string \"" + (s.length() > 80 ? s.substring(0, 80) + "..." : s) + "\"";
        }
        if (v instanceof BigDecimal d) {
            return "the number " + d.toString();
        }
        return v == null ? "null" : v instanceof Boolean b ? b.toString() : v instanceof Map ? "an object" : "an array";
    }

    /**
     * A shard name must name a file inside the index's folder: {@code huggingface_hub} refuses a
     * drive, a root or a {@code ..} part (read as a Windows path, so either slash separates).
     */
    private static void checkInside(String record, String tensor, String shard) throws CheckpointException {
        boolean escapes = shard.isEmpty() || shard.startsWith("/") || shard.startsWith("\\")
                || (shard.length() >= 2 && shard.charAt(1) == ':') || shard.indexOf('\0') >= 0;
        for (String part : shard.split("[/\\\\]")) {
            escapes |= part.equals("..");
        }
        if (escapes) { // safety: shard-path-inside
            throw CheckpointException.at(Kind.MALFORMED, record, -1, "weight_map names the shard '" + shard
                    + "', which is not a file name inside the index's folder (an absolute path or a '..' part)")
                    .forTensor(tensor);
        }
    }

    /** The path of shard {@code name}, beside the index. */
    public Path resolve(String name) {
        Path dir = index.toAbsolutePath().getParent();
        return dir.resolve(name);
    }
}
