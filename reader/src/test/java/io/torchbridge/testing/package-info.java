/**
 * What the tests of every module share, published as the reader's test jar: where the repository's
 * real-PyTorch fixtures are ({@link io.torchbridge.testing.Repo}), crafted zip archives
 * ({@link io.torchbridge.testing.TestZip}, and {@link io.torchbridge.testing.Crafted} for whole
 * checkpoints), crafted pickles ({@link io.torchbridge.testing.P}), and child processes that
 * cannot hang a test run ({@link io.torchbridge.testing.ChildProcess}). Each is independent of
 * the code under test, so a test states the bytes it means.
 */
package io.torchbridge.testing;
