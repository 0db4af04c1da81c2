/**
 * The JavaCPP plumbing behind {@code io.torchbridge.libtorch}: dtype tables, libtorch storages made
 * over (or copied from) a checkpoint's mapped records, snapshots of libtorch storages for the
 * writer, walks of a module tree, and libtorch's optimizer archives. Not exported.
 */
package io.torchbridge.libtorch.internal;
