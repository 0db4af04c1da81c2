package io.torchbridge.reader.internal.format;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.reader.Format;
import io.torchbridge.reader.ReadOptions;
import io.torchbridge.reader.internal.data.MappedFile;
import io.torchbridge.reader.internal.pickle.PickleReader;
import io.torchbridge.reader.internal.pickle.RawDict;
import io.torchbridge.reader.internal.pickle.RawObject;
import io.torchbridge.reader.internal.pickle.StorageRef;
import io.torchbridge.reader.internal.pickle.TensorSpec;
import io.torchbridge.reader.internal.zip.ZipContainer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.AbstractMap.SimpleImmutableEntry;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A TorchScript archive ({@code torch.jit.save}) read as what {@code torch.jit.load(f).state_dict()}
 * gives, without running any of it.
 *
 * <p>{@code data.pkl} holds the module as an object tree: each module is a {@code __torch__.*}
 * class built by NEWOBJ and given its attributes by BUILD (a dict); tensors are the usual
 * {@code _rebuild_tensor_v2} calls over {@code data/KEY} records. Which attributes are parameters
 * and which are buffers is declared only in the archive's code ({@link ScriptClass}). The state_dict
 * walks the modules as torch does (torch/nn/modules/module.py, {@code _save_to_state_dict} over a
 * RecursiveScriptModule, whose {@code _parameters}, {@code _buffers} and {@code _modules} list the
 * object's slots of each kind in slot order, torch/csrc/jit/api/module.h): a module's parameters
 * that hold a tensor, then its buffers that hold one, then each submodule, recursively.
 * {@code constants.pkl} (tensors the code uses as constants) is not part of the state_dict and is
 * not read.
 */
public final class TorchScript implements CheckpointFormat {
    private final MappedFile file;
    private final ZipContainer zip;
    private final Map<String, Map<String, ScriptClass>> sources = new HashMap<>();

    /** Reads from {@code zip}, the index of {@code file}; both stay the caller's to close. */
    public TorchScript(MappedFile file, ZipContainer zip) {
        this.file = file;
        this.zip = zip;
    }

    /**
     * Whether {@code zip} is a TorchScript archive: torch.load's own test (torch/serialization.py,
     * {@code _is_torchscript_zip}: a {@code constants.pkl} record), or the 1.x layout's
     * {@code model.json}.
     */
    public static boolean isTorchScript(ZipContainer zip) {
        return zip.entry("constants.pkl").isPresent() || zip.entry("model.json").isPresent();
    }

    @Override
    public Unpickled unpickle(ReadOptions options, boolean allowTrailing) throws CheckpointException {
        if (zip.entry("model.json").isPresent()) {
            return new TorchScriptV1(file, zip).unpickle(options);
        }
        int version = TorchZip.version(file, zip);
        ByteOrder order = TorchZip.byteOrder(file, zip);
        ZipContainer.Entry pkl = zip.entry("data.pkl").orElseThrow(() -> CheckpointException.of(Kind.MALFORMED,
                "the TorchScript archive has no data.pkl record (records: " + zip.names() + ")"));
        byte[] pickle = zip.read(file, pkl, options.maxPickleBytes());
        TorchZip.Storages storages = new TorchZip.Storages(zip.names().size());
        PickleReader reader = new PickleReader(options, "data.pkl",
                (type, dtype, key, location, numel) -> TorchZip.storage(file, zip, storages, order, type, dtype, key,
                        location, numel), true);
        Object root = reader.read(pickle, allowTrailing);
        Map<String, Object> names = new LinkedHashMap<>();
        if (!(root instanceof RawObject) || !isModule((RawObject) root)) { // safety: torchscript-root-module
            throw CheckpointException.at(Kind.MALFORMED, "data.pkl", -1, "the archive's object is not a scripted "
                    + "module (a __torch__ class declared as a Module in code/)");
        }
        Walk walk = new Walk(options, names);
        walk.module("", (RawObject) root, 0);
        List<Map.Entry<String, Object>> listed = new ArrayList<>(names.size());
        for (Map.Entry<String, Object> e : names.entrySet()) {
            listed.add(new SimpleImmutableEntry<>(e.getKey(), e.getValue()));
        }
        return new Unpickled(Format.TORCHSCRIPT, root, version, order, reader.unreadableTensor()).withNames(listed,
                List.copyOf(walk.modules));
    }

    /** Whether {@code o} is an object of a {@code __torch__} class that the code declares a Module. */
    private boolean isModule(RawObject o) throws CheckpointException {
        String module = o.callable.module();
        if (!module.equals("__torch__") && !module.startsWith("__torch__.")) {
            return false;
        }
        ScriptClass c = scriptClass(o);
        return c != null && c.module();
    }

    /**
     * The declaration of {@code o}'s class, or null when the archive has no code for it (a class
     * implemented in C++, {@code __torch__.torch.classes.*}). The code of class {@code a.b.C} is
     * the record {@code code/a/b.py} (import_export_helpers.cpp, qualifierToArchivePath).
     */
    private ScriptClass scriptClass(RawObject o) throws CheckpointException {
        String qualifier = o.callable.module();
        Map<String, ScriptClass> classes = sources.get(qualifier);
        if (classes == null) {
            String record = "code/" + qualifier.replace('.', '/') + ".py";
            var e = zip.entry(record);
            if (e.isEmpty()) {
                classes = Map.of();
            } else {
                byte[] text = zip.read(file, e.get(), MAX_SOURCE_BYTES);
                classes = ScriptClass.parse(new String(text, StandardCharsets.UTF_8), record);
            }
            sources.put(qualifier, classes);
        }
        return classes.get(o.callable.name());
    }

    /** Larger than any code file torch writes for a real model (megabytes at most). */
    private static final long MAX_SOURCE_BYTES = 64L << 20;

    /** The state_dict walk over the modules. */
    private final class Walk {
        private final ReadOptions options;
        private final Map<String, Object> names;
        private final Set<Object> onPath = Collections.newSetFromMap(new IdentityHashMap<>());
        /** Every module's path, in the walk's order (torch's state_dict _metadata keys). */
        final List<String> modules = new ArrayList<>();
        private long visits;

        Walk(ReadOptions options, Map<String, Object> names) {
            this.options = options;
            this.names = names;
        }

        void module(String prefix, RawObject o, int depth) throws CheckpointException {
            String cls = o.callable.fullName();
            if (depth > options.maxNesting()) { // safety: torchscript-module-nesting
                throw CheckpointException.at(Kind.LIMIT_EXCEEDED, "data.pkl", -1, "modules nest deeper than "
                        + options.maxNesting() + " levels (ReadOptions.maxNesting)");
            }
            if (++visits > options.maxTreeNodes()) { // safety: torchscript-module-visits
                throw CheckpointException.at(Kind.LIMIT_EXCEEDED, "data.pkl", -1, "the module tree expands to more "
                        + "than " + options.maxTreeNodes() + " modules through modules shared over and over "
                        + "(ReadOptions.maxTreeNodes)");
            }
            if (!onPath.add(o)) { // safety: torchscript-module-cycle
                throw CheckpointException.at(Kind.MALFORMED, "data.pkl", -1, "module " + cls + " at '" + prefix
                        + "' contains itself");
            }
            ScriptClass c = scriptClass(o);
            modules.add(prefix.isEmpty() ? "" : prefix.substring(0, prefix.length() - 1));
            if (c.setState()) { // safety: torchscript-setstate
                throw CheckpointException.at(Kind.UNSUPPORTED, "data.pkl", -1, "module " + cls + " at '" + prefix
                        + "' restores its attributes by running its __setstate__ method, which this reader "
                        + "does not run; in Python, torch.save(torch.jit.load(path).state_dict(), new_path)");
            }
            if (!(o.state instanceof RawDict)) { // safety: torchscript-module-state
                throw CheckpointException.at(Kind.MALFORMED, "data.pkl", -1, "module " + cls + " at '" + prefix
                        + "' has no attribute dict (its BUILD state is "
                        + (o.state == null ? "missing" : "not a dict") + ")");
            }
            RawDict state = (RawDict) o.state;
            List<Object> slots = new ArrayList<>(c.attributes().size());
            for (String a : c.attributes()) {
                // torch fills each declared slot from the dict by name and fails on a missing one
                // (import.cpp, readArchive's obj_loader: dict.at(name))
                if (!state.items.containsKey(a)) { // safety: torchscript-attribute-present
                    throw CheckpointException.at(Kind.MALFORMED, "data.pkl", -1, "module " + cls + " at '" + prefix
                            + "': the code declares attribute '" + a + "' but the pickled object has none");
                }
                slots.add(state.items.get(a));
            }
            for (int i = 0; i < slots.size(); i++) {
                if (c.parameters().contains(c.attributes().get(i)) && slots.get(i) instanceof TensorSpec t) {
                    add(prefix + c.attributes().get(i), t);
                }
            }
            for (int i = 0; i < slots.size(); i++) {
                if (c.buffers().contains(c.attributes().get(i)) && slots.get(i) instanceof TensorSpec t) {
                    add(prefix + c.attributes().get(i), t);
                }
            }
            for (int i = 0; i < slots.size(); i++) {
                if (slots.get(i) instanceof RawObject sub && isModule(sub)) {
                    module(prefix + c.attributes().get(i) + ".", sub, depth + 1);
                }
            }
            onPath.remove(o);
        }

        /**
         * A state_dict entry. A name given again (an attribute both a parameter and a buffer, or a
         * dotted attribute name that another path spells too) keeps its first place and takes the
         * later tensor, as assigning to a Python dict does.
         */
        private void add(String name, TensorSpec t) {
            names.put(name, t);
        }
    }
}
