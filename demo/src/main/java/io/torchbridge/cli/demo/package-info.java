/**
 * The native demo: the MLP and CNN of {@code fixtures/native_demo.py} built from libtorch modules,
 * and the round trip between real PyTorch and Java that {@code torchbridge demo} runs and the
 * compatibility tests check.
 */
package io.torchbridge.cli.demo;
