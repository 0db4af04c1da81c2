package io.torchbridge.libtorch;

import io.torchbridge.libtorch.LoadReport.Mismatch;
import io.torchbridge.libtorch.internal.Destinations;
import io.torchbridge.libtorch.internal.MappedCopies;
import io.torchbridge.libtorch.internal.MappedViews;
import io.torchbridge.libtorch.internal.ModuleTree;
import io.torchbridge.libtorch.internal.ScalarTypes;
import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.DType;
import io.torchbridge.reader.PyDict;
import io.torchbridge.reader.PyGlobal;
import io.torchbridge.reader.PyObject;
import io.torchbridge.reader.PyTuple;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

/**
 * {@code model.load_state_dict(torch.load(path))} for a libtorch module built in Java: the
 * checkpoint's tensors are copied into the module's parameters and buffers (BatchNorm running
 * statistics included), matched by the keys Python's {@code state_dict()} uses ({@code fc1.weight},
 * {@code bn1.running_mean}), which a Java module has when its submodules are registered under the
 * Python attribute names.
 *
 * <pre>{@code
 * LoadReport r = StateDictLoader.builder()
 *         .entry("model_state_dict")        // a training checkpoint's sub-dict
 *         .stripPrefix("module.")           // saved from DataParallel / DDP
 *         .build()
 *         .load(model, ckpt);
 * }</pre>
 *
 * <p>As in PyTorch: in strict mode (the default) missing and unexpected keys are errors; a shape
 * that differs is always an error; a 1-element 1-d tensor loads into a 0-d one; a dtype that
 * differs is cast by the copy. Unlike PyTorch, every entry is checked before anything is copied,
 * so a failed load leaves the module as it was. Non-strict loading returns the problems in the
 * {@link LoadReport} instead; {@link Builder#skipMismatched} also leaves out entries whose shape
 * differs, for transfer learning onto a new head.
 *
 * <p>Keys are rewritten before matching, in the order the rules were added. Values are copied
 * from the file mapping (or from the given libtorch tensors) into the module's own tensors on
 * whatever device they are, so a CUDA-saved file loads into a CPU module without a
 * {@code map_location}. Into CPU tensors of the same dtype the values go by {@code memcpy}
 * straight from the mapping, spread over a few threads; the module's tensors keep their own
 * memory. With {@link Builder#zeroCopy} they become copy-on-write views of the file instead, where
 * the module allows it, which costs no copy and no memory of the module's own. Immutable and
 * reusable.
 */
public final class StateDictLoader {
    private static final LoadOptions SOURCE = LoadOptions.defaults().withMapLocation(MapLocation.to("cpu"));

    private final boolean strict;
    private final String entry;
    private final List<UnaryOperator<String>> keyRules;
    private final boolean skipMismatched;
    private final boolean castDtypes;
    private final boolean zeroCopy;

    private StateDictLoader(Builder b) {
        this.strict = b.strict;
        this.entry = b.entry;
        this.keyRules = List.copyOf(b.keyRules);
        this.skipMismatched = b.skipMismatched;
        this.castDtypes = b.castDtypes;
        this.zeroCopy = b.zeroCopy;
    }

    /** {@return a loader for strict loading of the checkpoint's root, keys as they are} */
    public static StateDictLoader strict() {
        return builder().build();
    }

    /** {@return a builder with PyTorch's defaults: strict, root entry, no key rules, dtypes cast} */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Loads the state dict at the root of {@code ckpt} (or at {@link Builder#entry}) into
     * {@code module}. For a TorchScript archive the state dict is its {@code state_dict()}
     * ({@link Checkpoint#stateDict()}), as {@code torch.jit.load(f).state_dict()} gives it.
     *
     * @param module the module whose parameters and buffers receive the values
     * @param ckpt   the open checkpoint to read the state dict from
     * @return what was loaded, and (when not strict) the missing, unexpected and mismatched keys
     * @throws StateDictException the state dict does not fit, with PyTorch's message
     */
    public LoadReport load(Module module, Checkpoint ckpt) {
        return load(module, stateDictOf(ckpt));
    }

    /**
     * Loads the state dict at the root of {@code ckpt} (or at {@link Builder#entry}) into a
     * TorchScript module, as {@code torch.jit.load(archive).load_state_dict(torch.load(path))} does
     * in Python: the same keys, rules, checks and report as for a module built in Java; Python's
     * messages name the module {@code RecursiveScriptModule}.
     *
     * @param module the TorchScript module whose parameters and buffers receive the values
     * @param ckpt   the open checkpoint to read the state dict from
     * @return what was loaded, and (when not strict) the missing, unexpected and mismatched keys
     * @throws StateDictException the state dict does not fit, with PyTorch's message
     */
    public LoadReport load(ScriptedModule module, Checkpoint ckpt) {
        return load(module, stateDictOf(ckpt));
    }

    /**
     * Loads {@code stateDict} (as for {@link #load(Module, Object)}) into a TorchScript module.
     *
     * @param module    the TorchScript module whose parameters and buffers receive the values
     * @param stateDict a {@link PyDict} or a {@code Map} from names to tensors
     * @return what was loaded, and (when not strict) the missing, unexpected and mismatched keys
     * @throws StateDictException the state dict does not fit, with PyTorch's message
     */
    public LoadReport load(ScriptedModule module, Object stateDict) {
        return load(ModuleTree.walk(module.jit()), ModuleTree.SCRIPT_MODULE, stateDict);
    }

    private Object stateDictOf(Checkpoint ckpt) {
        return entry != null ? ckpt.value(entry) : ckpt.stateDict().map(d -> (Object) d).orElse(ckpt.root());
    }

    /**
     * Loads {@code stateDict} into {@code module}: a {@link PyDict} from a checkpoint, or any
     * {@code Map} from names to checkpoint {@link io.torchbridge.reader.Tensor}s, {@link NativeTensor}s
     * or libtorch {@link Tensor}s. {@link Builder#entry} does not apply here.
     *
     * @param module    the module whose parameters and buffers receive the values
     * @param stateDict a {@link PyDict} or a {@code Map} from names to tensors
     * @return what was loaded, and (when not strict) the missing, unexpected and mismatched keys
     * @throws StateDictException the state dict does not fit, with PyTorch's message
     */
    public LoadReport load(Module module, Object stateDict) {
        return load(ModuleTree.walk(module), ModuleTree.pythonName(module), stateDict);
    }

    /**
     * The one load_state_dict of this layer, over a module tree in Python's order (a module built
     * in Java, or a TorchScript module): key rules, checks, the report, then the copies.
     */
    @SuppressWarnings("try") // a scope guard (PointerScope, NoGradGuard), used for its lifetime alone
    private LoadReport load(List<ModuleTree.Node> tree, String moduleName, Object stateDict) {
        Map<?, ?> items;
        PyDict metadata = null;
        if (stateDict instanceof PyDict d) {
            items = d.items();
            metadata = d.metadata().orElse(null);
        } else if (stateDict instanceof Map<?, ?> m) {
            items = m;
        } else {
            throw new IllegalArgumentException("a state dict is a dict of tensors; got "
                    + (stateDict == null ? "None" : stateDict.getClass().getSimpleName())
                    + (entry == null ? " (for a training checkpoint, name its sub-dict with entry(\"model_state_dict\"))" : ""));
        }
        Map<String, Object> sd = rewriteKeys(items);
        Map<String, Long> versions = versions(metadata);

        Map<String, Tensor> model = ModuleTree.stateDict(tree);
        List<String> missing = new ArrayList<>();
        List<Mismatch> mismatches = new ArrayList<>();
        List<Mismatch> errors = new ArrayList<>();
        List<String> casts = new ArrayList<>();
        List<String> loadable = new ArrayList<>();
        for (ModuleTree.Node node : tree) {
            for (String local : concat(node)) {
                String key = node.prefix() + local;
                if (!sd.containsKey(key)) {
                    if (!legacyNumBatchesTracked(node, local, versions)) {
                        missing.add(key);
                    }
                    continue;
                }
                Mismatch m = check(key, sd.get(key), model.get(key));
                if (m == null) {
                    loadable.add(key);
                } else if (m.kind() == Mismatch.Kind.DTYPE && castDtypes) {
                    casts.add(key);
                    loadable.add(key);
                } else {
                    mismatches.add(m);
                    if (!(skipMismatched && m.kind() != Mismatch.Kind.NOT_A_TENSOR)) {
                        errors.add(m);
                    }
                }
            }
        }
        List<String> unexpected = unexpected(tree, sd);
        LoadReport report = new LoadReport(moduleName, missing, unexpected, mismatches, casts,
                List.of());
        boolean fails = !errors.isEmpty() || (strict && (!missing.isEmpty() || !unexpected.isEmpty()));
        if (fails) {
            LoadReport shown = new LoadReport(report.module(), strict ? missing : List.of(),
                    strict ? unexpected : List.of(), errors, List.of(), List.of());
            throw new StateDictException(shown.errorMessage(), report);
        }
        List<String> mapped = new ArrayList<>();
        try (NoGradGuard noGrad = new NoGradGuard()) {
            // The fast paths first: with zeroCopy, CPU tensors become views of the file
            // (MappedViews); checkpoint tensors into CPU tensors go straight from the mapping
            // (MappedCopies). The rest (casts, CUDA, other layouts, libtorch values, tensors
            // sharing memory with an earlier one) through copy_, after them and in key order,
            // so that of two values for one tensor (tied parameters) the last is kept, as in Python.
            Destinations claims = new Destinations();
            MappedViews views = zeroCopy ? new MappedViews(claims) : null;
            MappedCopies direct = new MappedCopies(claims);
            List<String> others = new ArrayList<>();
            for (String key : loadable) {
                if (views != null && views.add(key, model.get(key), sd.get(key))) {
                    mapped.add(key);
                } else if (!direct.add(model.get(key), sd.get(key))) {
                    others.add(key);
                }
            }
            if (views != null) {
                List<String> unmapped = views.run(); // fresh destinations: copied first, in any order
                mapped.removeAll(unmapped);
                others.addAll(0, unmapped);
            }
            direct.run();
            for (String key : others) {
                copyInto(model.get(key), sd.get(key));
            }
        }
        return new LoadReport(report.module(), missing, unexpected, mismatches, casts, loadable, mapped);
    }

    private static List<String> concat(ModuleTree.Node node) {
        List<String> l = new ArrayList<>(node.params().keySet());
        l.addAll(node.buffers().keySet());
        return l;
    }

    private Map<String, Object> rewriteKeys(Map<?, ?> items) {
        Map<String, Object> out = new LinkedHashMap<>();
        Map<String, String> from = new HashMap<>();
        for (var e : items.entrySet()) {
            if (!(e.getKey() instanceof String k)) {
                throw new IllegalArgumentException("state dict key " + e.getKey() + " is not a string");
            }
            String mapped = rewrite(k);
            if (mapped == null) {
                continue;
            }
            String before = from.putIfAbsent(mapped, k);
            if (before != null) {
                throw new IllegalArgumentException("keys '" + before + "' and '" + k + "' both become '" + mapped
                        + "' after the key rules");
            }
            out.put(mapped, e.getValue());
        }
        return out;
    }

    private String rewrite(String key) {
        String k = key;
        for (UnaryOperator<String> r : keyRules) {
            k = r.apply(k);
            if (k == null) {
                return null;
            }
        }
        return k;
    }

    /** {@code _metadata} versions by module path, with the key rules applied to the paths too. */
    private Map<String, Long> versions(PyDict metadata) {
        Map<String, Long> out = new HashMap<>();
        if (metadata == null) {
            return out;
        }
        for (var e : metadata.items().entrySet()) {
            if (e.getKey() instanceof String path && e.getValue() instanceof PyDict d
                    && d.get("version") instanceof Long v) {
                String mapped = rewrite(path.isEmpty() ? "" : path + ".");
                if (mapped != null) {
                    out.put(mapped.endsWith(".") ? mapped.substring(0, mapped.length() - 1) : mapped, v);
                }
            }
        }
        return out;
    }

    /**
     * torch/nn/modules/batchnorm.py, {@code _NormBase._load_from_state_dict}: a checkpoint from
     * before version 2 (or with no {@code _metadata}) lacks {@code num_batches_tracked}, and
     * PyTorch keeps the module's own value instead of calling it missing.
     */
    private static boolean legacyNumBatchesTracked(ModuleTree.Node node, String local, Map<String, Long> versions) {
        if (!local.equals("num_batches_tracked") || node.version() < 2) {
            return false;
        }
        Long v = versions.get(node.path());
        return v == null || v < 2;
    }

    private Mismatch check(String key, Object value, Tensor param) {
        long[] modelShape = param.sizes().vec().get();
        DType modelType = ScalarTypes.of(param.scalar_type());
        long[] shape;
        DType dtype;
        if (value instanceof io.torchbridge.reader.Tensor t) {
            shape = t.info().shape().toArray();
            dtype = t.dtype();
        } else if (value instanceof NativeTensor n) {
            shape = n.shape();
            dtype = n.dtype();
        } else if (value instanceof Tensor t) {
            shape = t.sizes().vec().get();
            dtype = ScalarTypes.of(t.scalar_type());
        } else {
            return new Mismatch(key, Mismatch.Kind.NOT_A_TENSOR, "<class '" + pythonType(value) + "'>", "Tensor");
        }
        // Backward compatibility in PyTorch: a 1-d tensor from 0.3 loads into a 0-d parameter.
        if (modelShape.length == 0 && shape.length == 1) {
            shape = new long[0];
        }
        if (!Arrays.equals(shape, modelShape)) {
            return new Mismatch(key, Mismatch.Kind.SHAPE, size(shape), size(modelShape));
        }
        if (dtype != modelType) {
            return new Mismatch(key, Mismatch.Kind.DTYPE, "torch." + dtype.pythonName(),
                    "torch." + modelType.pythonName());
        }
        return null;
    }

    /**
     * torch/nn/modules/module.py, {@code _load_from_state_dict}: each module, in pre-order, calls
     * unexpected every key under its prefix whose first component is neither one of its children
     * (for a dotted rest) nor one of its own tensors.
     */
    private static List<String> unexpected(List<ModuleTree.Node> tree, Map<String, Object> sd) {
        List<String> out = new ArrayList<>();
        for (ModuleTree.Node node : tree) {
            for (String key : sd.keySet()) {
                if (!key.startsWith(node.prefix())) {
                    continue;
                }
                String[] parts = key.substring(node.prefix().length()).split("\\.", 2);
                if (parts.length > 1) {
                    if (!node.children().contains(parts[0])) {
                        out.add(key);
                    }
                } else if (!node.params().containsKey(parts[0]) && !node.buffers().containsKey(parts[0])) {
                    out.add(key);
                }
            }
        }
        return out;
    }

    private static void copyInto(Tensor dst, Object value) {
        if (value instanceof io.torchbridge.reader.Tensor t) {
            try (NativeTensor n = NativeTensors.load(t, SOURCE)) {
                copy(dst, n.tensor());
            }
        } else if (value instanceof NativeTensor n) {
            copy(dst, n.tensor());
        } else {
            copy(dst, (Tensor) value);
        }
    }

    private static void copy(Tensor dst, Tensor src) {
        if (dst.dim() == 0 && src.dim() == 1) {
            try (Tensor first = src.select(0, 0)) {
                dst.copy_(first); // in place: returns dst's own handle, not a new one
            }
        } else {
            dst.copy_(src);
        }
    }

    private static String size(long[] shape) {
        StringBuilder b = new StringBuilder("torch.Size([");
        for (int i = 0; i < shape.length; i++) {
            b.append(i == 0 ? "" : ", ").append(shape[i]);
        }
        return b.append("])").toString();
    }

    private static String pythonType(Object v) {
        if (v == null) {
            return "NoneType";
        } else if (v instanceof Long || v instanceof java.math.BigInteger) {
            return "int";
        } else if (v instanceof Double) {
            return "float";
        } else if (v instanceof Boolean) {
            return "bool";
        } else if (v instanceof String) {
            return "str";
        } else if (v instanceof byte[]) {
            return "bytes";
        } else if (v instanceof PyDict d) {
            return PyDict.DICT.equals(d.pythonClass()) ? "dict" : d.pythonClass();
        } else if (v instanceof List) {
            return "list";
        } else if (v instanceof PyTuple) {
            return "tuple";
        } else if (v instanceof PyGlobal g) {
            return g.module() + "." + g.name();
        } else if (v instanceof PyObject o) {
            return o.toString();
        }
        return v.getClass().getSimpleName();
    }

    /** Builds a {@link StateDictLoader}; strict, keys as they are, casts allowed. */
    public static final class Builder {
        private boolean strict = true;
        private String entry;
        private final List<UnaryOperator<String>> keyRules = new ArrayList<>();
        private boolean skipMismatched;
        private boolean castDtypes = true;
        private boolean zeroCopy;

        private Builder() {
        }

        /**
         * PyTorch's {@code strict}: whether missing and unexpected keys fail the load.
         *
         * @param s true (the default) to fail on missing or unexpected keys
         * @return this builder
         */
        public Builder strict(boolean s) {
            strict = s;
            return this;
        }

        /**
         * Loads the sub-dict at {@code path} of the checkpoint ({@code "model_state_dict"},
         * {@code "model"}, {@code "state_dict"}; dotted paths reach deeper).
         *
         * @param path the entry's path, as {@link Checkpoint#value(String)} takes it
         * @return this builder
         */
        public Builder entry(String path) {
            entry = Objects.requireNonNull(path);
            return this;
        }

        /**
         * Removes {@code prefix} from the keys that start with it, as PyTorch's
         * {@code consume_prefix_in_state_dict_if_present}; {@code "module."} undoes
         * {@code DataParallel} and {@code DistributedDataParallel}.
         *
         * @param prefix the prefix to remove; keys without it stay as they are
         * @return this builder
         */
        public Builder stripPrefix(String prefix) {
            Objects.requireNonNull(prefix);
            keyRules.add(k -> k.startsWith(prefix) ? k.substring(prefix.length()) : k);
            return this;
        }

        /**
         * Puts {@code prefix} in front of every key ({@code "backbone."}).
         *
         * @param prefix the text to prepend
         * @return this builder
         */
        public Builder addPrefix(String prefix) {
            Objects.requireNonNull(prefix);
            keyRules.add(k -> prefix + k);
            return this;
        }

        /**
         * Replaces every match of {@code regex} in a key, {@code Matcher.replaceAll} style ({@code $1}).
         *
         * @param regex       a {@link java.util.regex.Pattern} expression
         * @param replacement the replacement, with {@code $n} group references
         * @return this builder
         */
        public Builder rename(String regex, String replacement) {
            Pattern p = Pattern.compile(regex);
            keyRules.add(k -> p.matcher(k).replaceAll(replacement));
            return this;
        }

        /**
         * Adds any key rule; returning {@code null} leaves the entry out.
         *
         * @param rule maps a key (as rewritten so far) to its new key, or to {@code null}
         * @return this builder
         */
        public Builder renameKeys(UnaryOperator<String> rule) {
            keyRules.add(Objects.requireNonNull(rule));
            return this;
        }

        /**
         * Leaves out the entries whose (rewritten so far) key contains a match of {@code regex}.
         *
         * @param regex a {@link java.util.regex.Pattern} expression, found anywhere in the key
         * @return this builder
         */
        public Builder exclude(String regex) {
            Pattern p = Pattern.compile(regex);
            keyRules.add(k -> p.matcher(k).find() ? null : k);
            return this;
        }

        /**
         * Keeps only the entries whose (rewritten so far) key contains a match of {@code regex}.
         *
         * @param regex a {@link java.util.regex.Pattern} expression, found anywhere in the key
         * @return this builder
         */
        public Builder include(String regex) {
            Pattern p = Pattern.compile(regex);
            keyRules.add(k -> p.matcher(k).find() ? k : null);
            return this;
        }

        /**
         * Leaves out (and reports) entries whose shape differs instead of failing; with
         * {@code strict(false)}, the usual set-up for transfer learning.
         *
         * @param s true to skip entries whose shape differs; false (the default) to fail
         * @return this builder
         */
        public Builder skipMismatched(boolean s) {
            skipMismatched = s;
            return this;
        }

        /**
         * Whether a dtype that differs is cast into the module's dtype (PyTorch's behaviour, the
         * default) or is a mismatch.
         *
         * @param c true (the default) to cast; false to report a differing dtype as a mismatch
         * @return this builder
         */
        public Builder castDtypes(boolean c) {
            castDtypes = c;
            return this;
        }

        /**
         * Whether CPU parameters and buffers become views of the checkpoint file instead of
         * copies, where the module allows it: Python's
         * {@code load_state_dict(torch.load(f, mmap=True), assign=True)}, without a copy or the
         * module's own memory for them. The file is mapped copy-on-write, as
         * {@code torch.load(mmap=True)} maps it, so writing into such a tensor (training, an
         * optimizer step, BatchNorm's running statistics) copies the page for this process and
         * never changes the file; pages are read from the page cache when first touched, and the
         * mapping lives as long as the tensors, past the checkpoint's close.
         *
         * <p>Taken for an entry whose module tensor is on the CPU, owns all of its storage (not a
         * view into memory other tensors share), and has the checkpoint tensor's dtype and shape,
         * when the file holds the values contiguously, little-endian, at an offset aligned to the
         * element size (every file {@code torch.save} and {@code save_file} write, on x86 and
         * ARM); every other entry is copied as without this option. {@link LoadReport#mappedKeys()}
         * lists the entries that became views.
         *
         * <p>Unlike Python's {@code assign=True}, the module's dtypes and devices stay as they are.
         * As with any mapping, the file must not be changed in place (truncated or overwritten)
         * while the module uses it: the process would get {@code SIGBUS}. Replacing it by a new file
         * (write, then rename, as torch.save's callers and TorchBridge's writers do) is safe.
         *
         * @param z true to map where possible; false (the default) to copy every entry
         * @return this builder
         */
        public Builder zeroCopy(boolean z) {
            zeroCopy = z;
            return this;
        }

        /** {@return an immutable loader with these settings} */
        public StateDictLoader build() {
            return new StateDictLoader(this);
        }
    }
}
