/**
 * What every internal package of the reader shares: checked arithmetic on sizes and offsets
 * read from a file ({@link io.torchbridge.reader.internal.Checked}).
 */
package io.torchbridge.reader.internal;
