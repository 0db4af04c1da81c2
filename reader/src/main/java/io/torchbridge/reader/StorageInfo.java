package io.torchbridge.reader;

/**
 * One storage of a checkpoint: the bytes behind one or more tensors.
 *
 * @param key      the key in the persistent id; the data is the record {@code data/<key>}
 * @param type     the pickled storage class, such as {@code FloatStorage} or {@code UntypedStorage}
 * @param location where it was saved from, as the file says ({@code cpu}, {@code cuda:0})
 * @param nbytes   its size in bytes
 */
public record StorageInfo(String key, String type, String location, long nbytes) {
    /** {@return the archive record that holds the data} */
    public String record() {
        return "data/" + key;
    }
}
