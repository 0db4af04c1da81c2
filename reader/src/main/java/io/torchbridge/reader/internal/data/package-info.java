/**
 * The mapped file and the strided-copy machinery behind {@code Tensor}: regions mapped in 1 GiB
 * chunks, logical values streamed with conj/neg/byte-order applied, narrow floats decoded.
 */
package io.torchbridge.reader.internal.data;
