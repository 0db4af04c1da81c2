/**
 * The mapped file and the strided-copy machinery behind {@code Tensor}: regions mapped in 1 GiB
 * chunks, logical values streamed with conj/neg/byte-order applied, narrow floats decoded; and
 * {@code StoredRecord}, a storage's zip record as it lies in the file, which the writer copies
 * file-to-file with its CRC.
 */
package io.torchbridge.reader.internal.data;
