package io.torchbridge.reader.internal.pickle;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.DType;

/** Finds the record behind a persistent id {@code ('storage', type, key, location, numel)}. */
public interface StorageResolver {
    /**
     * @param dtype the typed storage's dtype, or {@code null} for {@code UntypedStorage}
     * @param numel elements of {@code dtype}, or bytes for an untyped storage
     */
    StorageRef resolve(String storageType, DType dtype, String key, String location, long numel)
            throws CheckpointException;
}
