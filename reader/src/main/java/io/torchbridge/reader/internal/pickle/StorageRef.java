package io.torchbridge.reader.internal.pickle;

import io.torchbridge.reader.DType;
import io.torchbridge.reader.StorageInfo;
import io.torchbridge.reader.internal.data.MappedRegion;
import io.torchbridge.reader.internal.data.StoredRecord;

/**
 * A storage named by a persistent id, with its record's bytes.
 *
 * @param dtype  the typed storage's dtype, or {@code null} for {@code UntypedStorage} (bytes)
 * @param stored the zip record the bytes lie in, for a writer that copies it unchanged; null if none
 */
public record StorageRef(StorageInfo info, DType dtype, MappedRegion region, StoredRecord stored) {
}
