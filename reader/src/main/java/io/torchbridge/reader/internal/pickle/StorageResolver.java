package io.torchbridge.reader.internal.pickle;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.DType;

/**
 * Finds the record behind a persistent id {@code ('storage', type, key, location, numel)} (the zip
 * and the legacy stream), or, through {@link #other}, what another kind of id names (the legacy
 * tar's ids are plain keys of tensors and storages).
 */
public interface StorageResolver {
    /**
     * @param dtype the typed storage's dtype, or {@code null} for {@code UntypedStorage}
     * @param numel elements of {@code dtype}, or bytes for an untyped storage
     */
    StorageRef resolve(String storageType, DType dtype, String key, String location, long numel)
            throws CheckpointException;

    /**
     * What a persistent id that is not a {@code ('storage', ...)} tuple names: a {@link StorageRef},
     * a {@link TensorRef}, or any raw value. Only the legacy tar has such ids.
     */
    default Object other(Object pid) throws CheckpointException {
        throw CheckpointException.of(CheckpointException.Kind.MALFORMED,
                "persistent id is not ('storage', type, key, location, numel)");
    }

    /**
     * A view of {@code root}: elements {@code [offset, offset + size)} of its dtype, under its own
     * key. Only the legacy stream has them (view_metadata, the sixth item of its persistent ids,
     * which torch before 1.0 wrote for storages that were views of others).
     */
    default StorageRef view(StorageRef root, String viewKey, long offset, long size) throws CheckpointException {
        throw CheckpointException.of(CheckpointException.Kind.UNSUPPORTED,
                "storage views (view_metadata in the persistent id) outside the legacy stream");
    }
}
