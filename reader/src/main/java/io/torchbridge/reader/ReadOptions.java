package io.torchbridge.reader;

import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * How one {@link Checkpoint} is read: which globals beyond PyTorch's {@code weights_only}
 * allowlist are admitted (always as inert {@link PyObject}s), and the safety limits. Immutable;
 * every reader gets its own, there is no global registry.
 *
 * @param extraGlobals   {@code module.name} of globals admitted as inert data
 * @param maxPickleBytes largest {@code data.pkl} read into memory
 * @param maxMemo        most memo entries one pickle may create
 * @param maxStack       most items on the unpickler stack at once
 * @param maxNesting     deepest nesting of containers in the object tree
 * @param maxTreeNodes   most values the object tree may hold counting every path to a shared
 *                       container again (what a walk of the tree meets): stops "billion laughs"
 *                       pickles whose few objects expand to billions of values
 * @param inert          admit every global (but those of os, posix, nt, sys) as inert data: for
 *                       full-model pickles ({@code torch.save(model)}) and checkpoints with
 *                       arbitrary Python objects; nothing is ever constructed or run
 */
public record ReadOptions(Set<String> extraGlobals, long maxPickleBytes, int maxMemo, int maxStack,
                          int maxNesting, long maxTreeNodes, boolean inert) {

    private static final ReadOptions DEFAULTS = builder().build();

    /**
     * Copies {@code extraGlobals} and checks the limits.
     *
     * @param extraGlobals   {@code module.name} of globals admitted as inert data
     * @param maxPickleBytes largest {@code data.pkl} read into memory, in bytes
     * @param maxMemo        most memo entries one pickle may create
     * @param maxStack       most items on the unpickler stack at once
     * @param maxNesting     deepest nesting of containers in the object tree
     * @param maxTreeNodes   most values the object tree may hold, counting each path to a shared container
     * @param inert          admit every global (but those of os, posix, nt, sys) as inert data
     * @throws IllegalArgumentException a limit is 0 or negative
     */
    public ReadOptions {
        extraGlobals = Collections.unmodifiableSet(new LinkedHashSet<>(extraGlobals));
        if (maxPickleBytes <= 0 || maxMemo <= 0 || maxStack <= 0 || maxNesting <= 0 || maxTreeNodes <= 0) {
            throw new IllegalArgumentException("limits must be positive");
        }
    }

    /** {@return PyTorch's {@code weights_only=True} acceptance and the default limits} */
    public static ReadOptions defaults() {
        return DEFAULTS;
    }

    /** {@return a builder that starts from the defaults} */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * {@return whether {@code module.name} was admitted by {@link Builder#allowGlobal}}
     *
     * @param module the global's module, such as {@code collections}
     * @param name   the global's name within it, such as {@code OrderedDict}
     */
    public boolean admits(String module, String name) {
        return inert || extraGlobals.contains(module + "." + name);
    }

    /** Builds {@link ReadOptions}; starts from the defaults. */
    public static final class Builder {
        private final Set<String> extraGlobals = new LinkedHashSet<>();
        private long maxPickleBytes = 1L << 30;
        private int maxMemo = 2_000_000;
        private int maxStack = 1_000_000;
        private int maxNesting = 1_000;
        private long maxTreeNodes = 100_000_000L;
        private boolean inert;

        private Builder() {
        }

        /**
         * Admits {@code module.name} as inert data: calls to it become {@link PyObject}s, nothing is
         * run. Modules {@code os}, {@code posix}, {@code nt} and {@code sys} are never admitted,
         * as in PyTorch.
         *
         * @param module the global's module, such as {@code argparse}
         * @param name   the global's name within it, such as {@code Namespace}
         * @return this builder
         */
        public Builder allowGlobal(String module, String name) {
            extraGlobals.add(module + "." + name);
            return this;
        }

        /**
         * Sets the largest {@code data.pkl} read into memory.
         *
         * @param v bytes, positive; default 1 GiB
         * @return this builder
         */
        public Builder maxPickleBytes(long v) {
            maxPickleBytes = v;
            return this;
        }

        /**
         * Sets the most memo entries one pickle may create.
         *
         * @param v entries, positive; default 2,000,000
         * @return this builder
         */
        public Builder maxMemo(int v) {
            maxMemo = v;
            return this;
        }

        /**
         * Sets the most items on the unpickler stack at once.
         *
         * @param v items, positive; default 1,000,000
         * @return this builder
         */
        public Builder maxStack(int v) {
            maxStack = v;
            return this;
        }

        /**
         * Inert mode: every class and function a pickle names becomes inert data ({@link PyObject}),
         * so the tensors of a pickled {@code nn.Module}, a Lightning checkpoint or numpy scalars
         * are reachable without running any of it. Modules os, posix, nt and sys stay refused.
         *
         * @param v true for inert mode; default false
         * @return this builder
         */
        public Builder inert(boolean v) {
            inert = v;
            return this;
        }

        /**
         * Sets the most values the object tree may hold, counting each path to a shared container.
         *
         * @param v values, positive; default 100,000,000
         * @return this builder
         */
        public Builder maxTreeNodes(long v) {
            maxTreeNodes = v;
            return this;
        }

        /**
         * Sets the deepest nesting of containers in the object tree.
         *
         * @param v levels, positive; default 1,000
         * @return this builder
         */
        public Builder maxNesting(int v) {
            maxNesting = v;
            return this;
        }

        /**
         * {@return the options}
         *
         * @throws IllegalArgumentException a limit is 0 or negative
         */
        public ReadOptions build() {
            return new ReadOptions(extraGlobals, maxPickleBytes, maxMemo, maxStack, maxNesting, maxTreeNodes, inert);
        }
    }
}
