package io.torchbridge.reader.internal.format;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.reader.DType;
import io.torchbridge.reader.Format;
import io.torchbridge.reader.ReadOptions;
import io.torchbridge.reader.StorageInfo;
import io.torchbridge.reader.internal.Checked;
import io.torchbridge.reader.internal.data.MappedFile;
import io.torchbridge.reader.internal.data.MappedRegion;
import io.torchbridge.reader.internal.data.StoredRecord;
import io.torchbridge.reader.internal.pickle.PickleReader;
import io.torchbridge.reader.internal.pickle.StorageRef;
import io.torchbridge.reader.internal.zip.ZipContainer;
import java.nio.ByteOrder;
import java.util.IdentityHashMap;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * The zip archive {@code torch.save} writes since PyTorch 1.6: a {@code version} record, a
 * {@code byteorder} record (2.1+), {@code data.pkl}, and one stored record {@code data/KEY} per
 * storage the pickle names (torch/serialization.py, {@code _save} and {@code _load}).
 */
public final class TorchZip implements CheckpointFormat {
    private final MappedFile file;
    private final ZipContainer zip;
    private final String keyPrefix;

    /** Reads from {@code zip}, the index of {@code file}; both stay the caller's to close. */
    public TorchZip(MappedFile file, ZipContainer zip) {
        this(file, zip, "");
    }

    /**
     * As {@link #TorchZip(MappedFile, ZipContainer)}, with {@code keyPrefix} before every storage
     * key: a checkpoint in several files (shards) numbers each file's storages from 0, and the
     * keys must stay unique across them (inspect counts storages by key).
     */
    public TorchZip(MappedFile file, ZipContainer zip, String keyPrefix) {
        this.file = file;
        this.zip = zip;
        this.keyPrefix = keyPrefix;
    }

    @Override
    public Unpickled unpickle(ReadOptions options, boolean allowTrailing) throws CheckpointException {
        if (zip.entry("constants.pkl").isPresent()) {
            throw CheckpointException.of(Kind.UNSUPPORTED, "this is a TorchScript archive (torch.jit.save), "
                    + "which is not read yet; in Python, torch.save(torch.jit.load(path).state_dict(), new_path)");
        }
        int version = version(file, zip);
        ByteOrder order = byteOrder(file, zip);
        ZipContainer.Entry pkl = zip.entry("data.pkl").orElseThrow(() -> CheckpointException.of(Kind.MALFORMED,
                "the archive has no data.pkl record, so it holds no checkpoint (records: " + zip.names() + ")"));
        byte[] pickle = zip.read(file, pkl, options.maxPickleBytes());
        Storages storages = new Storages(zip.names().size());
        Map<StorageRef, StorageRef> rekeyed = new IdentityHashMap<>(); // one ref per storage, sharing kept
        PickleReader reader = new PickleReader(options, "data.pkl", (type, dtype, key, location, numel) -> {
            StorageRef r = storage(file, zip, storages, order, type, dtype, key, location, numel);
            return keyPrefix.isEmpty() ? r : rekeyed.computeIfAbsent(r, x -> new StorageRef(new StorageInfo(
                    keyPrefix + x.info().key(), x.info().type(), x.info().location(), x.info().nbytes()), x.dtype(),
                    x.region(), x.stored()));
        });
        Object root = reader.read(pickle, allowTrailing);
        return new Unpickled(Format.ZIP, root, version, order, reader.unreadableTensor());
    }

    /**
     * The record behind a persistent id, checked against the size the pickle declares; a key
     * named again must declare the same size and gets the same storage (one mapping, shared).
     */
    static StorageRef storage(MappedFile file, ZipContainer zip, Storages storages, ByteOrder order,
                              String type, DType dtype, String key, String location, long numel)
            throws CheckpointException {
        return storage(file, zip, storages, order, type, dtype, key, location, numel, "data/");
    }

    /** As above, for storages whose record is {@code prefix + key} (the 1.x TorchScript layout names records whole). */
    static StorageRef storage(MappedFile file, ZipContainer zip, Storages storages, ByteOrder order,
                              String type, DType dtype, String key, String location, long numel, String prefix)
            throws CheckpointException {
        StorageRef known = storages.get(key);
        long nbytes = dtype == null ? numel : Checked.multiply(numel, dtype.itemSize(), prefix + key, "storage size");
        if (known != null) {
            if (known.info().nbytes() != nbytes) { // safety: storage-named-twice-same-size
                throw CheckpointException.at(Kind.MALFORMED, prefix + key, -1, "storage is named twice with "
                        + "different sizes (" + known.info().nbytes() + " and " + nbytes + " bytes)");
            }
            return known;
        }
        ZipContainer.Entry rec = ("data/".equals(prefix) ? zip.storageRecord(key) : zip.entry(prefix + key))
                .orElseThrow(() -> CheckpointException.at(Kind.MALFORMED, prefix + key, -1, "the pickle names storage '"
                        + key + "' but the archive has no record " + prefix + key));
        if (!rec.stored()) { // safety: storage-record-stored
            throw CheckpointException.at(Kind.UNSUPPORTED, rec.name(), -1, "storage record is compressed; "
                    + "torch.save stores them uncompressed (re-save the file with torch.save)");
        }
        if (rec.size() != nbytes) { // safety: storage-record-size
            throw CheckpointException.at(Kind.MALFORMED, rec.name(), -1, "record has " + rec.size()
                    + " bytes but the pickle declares a " + type + " of " + numel + " elements (" + nbytes
                    + " bytes)");
        }
        MappedRegion region = file.region(rec.dataOffset(), rec.size(), order);
        StoredRecord stored = new StoredRecord(region, rec.crc());
        StorageRef ref = new StorageRef(new StorageInfo(key, type, location, nbytes), dtype, region, stored);
        storages.put(key, ref);
        return ref;
    }

    /**
     * The storages met so far by key: torch.save numbers them 0, 1, ... so those sit in an array
     * (at most one per record); any other key in a map. A hash map of 200k keys was a tenth of an open.
     */
    static final class Storages {
        private final StorageRef[] byNumber;
        private final Map<String, StorageRef> others = new HashMap<>();

        Storages(int records) {
            byNumber = new StorageRef[records];
        }

        StorageRef get(String key) {
            int n = ZipContainer.decimal(key, 0, byNumber.length);
            return n >= 0 ? byNumber[n] : others.get(key);
        }

        void put(String key, StorageRef ref) {
            int n = ZipContainer.decimal(key, 0, byNumber.length);
            if (n >= 0) {
                byNumber[n] = ref;
            } else {
                others.put(key, ref);
            }
        }
    }

    static int version(MappedFile file, ZipContainer zip) throws CheckpointException {
        ZipContainer.Entry e = zip.entry("version").or(() -> zip.entry(".data/version")).orElseThrow(() ->
                CheckpointException.of(Kind.MALFORMED, "the archive has no 'version' record; torch.save always "
                        + "writes one (is this a PyTorch checkpoint?)"));
        String text = new String(zip.read(file, e, 64), StandardCharsets.US_ASCII).trim();
        int v;
        try {
            v = Integer.parseInt(text);
        } catch (NumberFormatException ex) {
            throw CheckpointException.at(Kind.MALFORMED, e.name(), 0, "version is '" + text + "', not a number");
        }
        // caffe2/serialize/versions.h: kMinSupportedFileFormatVersion 1, kMaxSupportedFileFormatVersion 10.
        if (v < 1 || v > 10) { // safety: zip-format-version
            throw CheckpointException.at(Kind.UNSUPPORTED, e.name(), 0, "file format version " + v
                    + " is outside 1..10, the range PyTorch reads");
        }
        return v;
    }

    static ByteOrder byteOrder(MappedFile file, ZipContainer zip) throws CheckpointException {
        var e = zip.entry("byteorder");
        if (e.isEmpty()) {
            return ByteOrder.LITTLE_ENDIAN; // before 2.1 there was no record; PyTorch assumes little
        }
        String text = new String(zip.read(file, e.get(), 16), StandardCharsets.US_ASCII).trim();
        return switch (text) {
            case "little" -> ByteOrder.LITTLE_ENDIAN;
            case "big" -> ByteOrder.BIG_ENDIAN;
            default -> throw CheckpointException.at(Kind.MALFORMED, "byteorder", 0,
                    "byteorder is '" + text + "', not 'little' or 'big'");
        };
    }
}
