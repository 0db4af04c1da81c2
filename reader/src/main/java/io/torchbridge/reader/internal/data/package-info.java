/**
 * The mapped file and the strided-copy machinery behind {@code Tensor}: the file mapped in a
 * bounded number of shared windows with leases and unmapping on close ({@code MappedFile}),
 * records as plain regions read in slices of at most 1 GiB, logical values streamed with
 * conj/neg/byte-order applied, narrow floats decoded;
 * and {@code StoredRecord}, a storage's zip record as it lies in the file, which the writer
 * copies file-to-file with its CRC.
 */
package io.torchbridge.reader.internal.data;
