/** The {@code torchbridge} command line: {@code inspect}, and later {@code convert} and {@code scan}. */
package io.torchbridge.cli;
