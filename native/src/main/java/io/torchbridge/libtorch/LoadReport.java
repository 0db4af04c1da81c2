package io.torchbridge.libtorch;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * What {@link StateDictLoader#load} did: PyTorch's {@code _IncompatibleKeys} (missing and
 * unexpected keys) plus the entries it could not or did not load as they were.
 *
 * @param module         the module's class name, as PyTorch's error message names it
 * @param missingKeys    keys of the module the state dict lacks, in the module's order
 * @param unexpectedKeys keys of the state dict the module lacks, in PyTorch's order
 * @param mismatches     entries present on both sides but not loaded: a shape that differs, a
 *                       value that is not a tensor, a dtype that differs when casts are refused
 * @param castKeys       entries loaded with a dtype conversion (PyTorch's {@code copy_} casts too)
 * @param loadedKeys     entries loaded into the module, in the module's order
 * @param mappedKeys     of those, the entries whose module tensor is now a copy-on-write view of
 *                       the file rather than a copy ({@link StateDictLoader.Builder#zeroCopy}),
 *                       in the module's order
 */
public record LoadReport(String module, List<String> missingKeys, List<String> unexpectedKeys,
                         List<Mismatch> mismatches, List<String> castKeys, List<String> loadedKeys,
                         List<String> mappedKeys) {
    /**
     * Copies the lists into unmodifiable ones.
     *
     * @param module         the module's class name
     * @param missingKeys    keys of the module the state dict lacks
     * @param unexpectedKeys keys of the state dict the module lacks
     * @param mismatches     entries present on both sides but not loaded
     * @param castKeys       entries loaded with a dtype conversion
     * @param loadedKeys     entries loaded into the module
     * @param mappedKeys     of those, the entries that became views of the file
     */
    public LoadReport {
        missingKeys = List.copyOf(missingKeys);
        unexpectedKeys = List.copyOf(unexpectedKeys);
        mismatches = List.copyOf(mismatches);
        castKeys = List.copyOf(castKeys);
        loadedKeys = List.copyOf(loadedKeys);
        mappedKeys = List.copyOf(mappedKeys);
    }

    /**
     * A report of a load that mapped nothing (every entry copied).
     *
     * @param module         the module's class name
     * @param missingKeys    keys of the module the state dict lacks
     * @param unexpectedKeys keys of the state dict the module lacks
     * @param mismatches     entries present on both sides but not loaded
     * @param castKeys       entries loaded with a dtype conversion
     * @param loadedKeys     entries copied into the module
     */
    public LoadReport(String module, List<String> missingKeys, List<String> unexpectedKeys,
                      List<Mismatch> mismatches, List<String> castKeys, List<String> loadedKeys) {
        this(module, missingKeys, unexpectedKeys, mismatches, castKeys, loadedKeys, List.of());
    }

    /** One entry that did not load as it was. */
    public record Mismatch(String key, Kind kind, String inCheckpoint, String inModel) {
        /** Why it did not load. */
        public enum Kind {
            /** The shapes differ (and no 1-element to 0-d rule applies). */
            SHAPE,
            /** The dtypes differ and casts are refused. */
            DTYPE,
            /** The state dict's value is not a tensor. */
            NOT_A_TENSOR
        }

        /** {@return PyTorch's line for it (torch/nn/modules/module.py, {@code _load_from_state_dict})} */
        public String message() {
            return switch (kind) {
                case SHAPE -> "size mismatch for " + key + ": copying a param with shape " + inCheckpoint
                        + " from checkpoint, the shape in current model is " + inModel + ".";
                case DTYPE -> "dtype mismatch for " + key + ": copying a param with dtype " + inCheckpoint
                        + " from checkpoint, the dtype in current model is " + inModel + ".";
                case NOT_A_TENSOR -> "While copying the parameter named \"" + key + "\", expected torch.Tensor or "
                        + "Tensor-like object from checkpoint but received " + inCheckpoint;
            };
        }
    }

    /** {@return whether every key matched and loaded, as PyTorch's {@code <All keys matched successfully>}} */
    public boolean allMatched() {
        return missingKeys.isEmpty() && unexpectedKeys.isEmpty() && mismatches.isEmpty();
    }

    /**
     * PyTorch's {@code RuntimeError} text for these problems, as strict loading reports them:
     * missing keys, then unexpected keys, then one line per mismatch.
     *
     * @return the message, in PyTorch's wording
     */
    public String errorMessage() {
        List<String> lines = new ArrayList<>();
        if (!missingKeys.isEmpty()) {
            lines.add("Missing key(s) in state_dict: " + quoted(missingKeys) + ". ");
        }
        if (!unexpectedKeys.isEmpty()) {
            lines.add("Unexpected key(s) in state_dict: " + quoted(unexpectedKeys) + ". ");
        }
        mismatches.forEach(m -> lines.add(m.message()));
        return "Error(s) in loading state_dict for " + module + ":\n\t" + String.join("\n\t", lines);
    }

    private static String quoted(List<String> keys) {
        return keys.stream().map(k -> "\"" + k + "\"").collect(Collectors.joining(", "));
    }

    @Override
    public String toString() {
        return allMatched() ? "<All keys matched successfully>"
                : "LoadReport(missing_keys=" + missingKeys + ", unexpected_keys=" + unexpectedKeys + ", mismatches="
                        + mismatches.stream().map(Mismatch::key).collect(Collectors.toList()) + ")";
    }
}
