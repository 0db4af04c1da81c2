package io.torchbridge.reader;

/** A Python {@code complex} scalar. */
public record PyComplex(double real, double imag) {
}
