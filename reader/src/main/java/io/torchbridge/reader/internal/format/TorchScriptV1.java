package io.torchbridge.reader.internal.format;

import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.reader.DType;
import io.torchbridge.reader.Format;
import io.torchbridge.reader.ReadOptions;
import io.torchbridge.reader.internal.data.MappedFile;
import io.torchbridge.reader.internal.pickle.PickleReader;
import io.torchbridge.reader.internal.pickle.RawDict;
import io.torchbridge.reader.internal.pickle.StorageRef;
import io.torchbridge.reader.internal.zip.ZipContainer;
import java.io.ByteArrayOutputStream;
import java.math.BigDecimal;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.AbstractMap.SimpleImmutableEntry;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The TorchScript layout of torch 1.0-1.2 ({@code model.json}), which no torch installed for the
 * tests reads any more (import.cpp: "Legacy model format is not supported on mobile"), read to the
 * rules of torch's reader for it, torch/csrc/jit/serialization/import_legacy.cpp.
 *
 * <p>{@code model.json} is a {@code torch.ModelDef} (caffe2/proto/torch.proto) in protobuf's JSON
 * mapping: a tensor table ({@code tensors}: dims, offset, strides, requiresGrad, dataType, the
 * record {@code data.key}, device) and the module tree ({@code mainModule}: name, submodules,
 * parameters as {name, tensorId, isBuffer}). LEGACY_convertModule registers a module's submodules,
 * then its parameters and buffers in ParameterDef order, so the state_dict lists a module's
 * parameters, then its buffers, then each submodule's entries. {@code attributes.pkl} holds the
 * other attributes and is not needed for that.
 *
 * <p>The tensors go through the one pickle reader: the module tree is turned into a small pickle
 * of dicts and {@code _rebuild_tensor_v3} calls over the archive's records, so every check a
 * torch.save file gets (record sizes, views inside their storage, shared storages) applies here too.
 */
final class TorchScriptV1 {
    private final MappedFile file;
    private final ZipContainer zip;

    TorchScriptV1(MappedFile file, ZipContainer zip) {
        this.file = file;
        this.zip = zip;
    }

    /** caffe2/proto/caffe2.proto, TensorProto.DataType, as caffe2's DataTypeToTypeMeta maps them. */
    private static DType dtype(Object type) {
        String name = type instanceof BigDecimal n ? switch (n.intValue()) {
            case 1 -> "FLOAT";
            case 2 -> "INT32";
            case 3 -> "BYTE";
            case 5 -> "BOOL";
            case 6 -> "UINT8";
            case 7 -> "INT8";
            case 9 -> "INT16";
            case 10 -> "INT64";
            case 12 -> "FLOAT16";
            case 13 -> "DOUBLE";
            default -> "";
        } : String.valueOf(type);
        return switch (name) {
            case "FLOAT" -> DType.FLOAT32;
            case "DOUBLE" -> DType.FLOAT64;
            case "FLOAT16" -> DType.FLOAT16;
            case "INT8" -> DType.INT8;
            case "UINT8", "BYTE" -> DType.UINT8;
            case "INT16" -> DType.INT16;
            case "INT32" -> DType.INT32;
            case "INT64" -> DType.INT64;
            case "BOOL" -> DType.BOOL;
            default -> null;
        };
    }

    Unpickled unpickle(ReadOptions options) throws CheckpointException {
        int version = TorchZip.version(file, zip);
        ZipContainer.Entry json = zip.entry("model.json").orElseThrow();
        Object model = Json.parse(new String(zip.read(file, json, options.maxPickleBytes()), StandardCharsets.UTF_8),
                "model.json", options.maxNesting());
        Map<String, Object> m = object(model, "model.json");
        long proto = integer(m.getOrDefault("protoVersion", m.get("proto_version")), "protoVersion", 0);
        if (proto >= 6) { // safety: v1-proto-version
            // import_legacy.cpp: AT_ASSERT(proto_version < 6)
            throw CheckpointException.at(Kind.UNSUPPORTED, "model.json", -1, "protoVersion " + proto
                    + " is not below 6, the versions torch's reader for this layout accepts");
        }
        List<Object> tensorDefs = list(field(m, "tensors"), "tensors");
        Map<String, Object> main = object(field(m, "mainModule", "main_module"), "mainModule");

        Emitter out = new Emitter();
        out.proto();
        List<Module> modules = new ArrayList<>();
        int[] tensorsUsed = new int[tensorDefs.size()];
        module(main, "", out, tensorDefs, tensorsUsed, modules);
        out.stop();

        TorchZip.Storages storages = new TorchZip.Storages(zip.names().size());
        PickleReader reader = new PickleReader(options, "model.json",
                (type, dtype, key, location, numel) -> TorchZip.storage(file, zip, storages, ByteOrder.LITTLE_ENDIAN,
                        type, dtype, key, location, numel, ""), false);
        Object root = reader.read(out.bytes(), false);

        // the state_dict: per module its parameters, then its buffers, then its submodules
        Map<String, Object> names = new LinkedHashMap<>();
        List<String> paths = new ArrayList<>();
        stateDict((RawDict) root, modules, 0, "", names, paths);
        List<Map.Entry<String, Object>> listed = new ArrayList<>(names.size());
        for (Map.Entry<String, Object> e : names.entrySet()) {
            listed.add(new SimpleImmutableEntry<>(e.getKey(), e.getValue()));
        }
        return new Unpickled(Format.TORCHSCRIPT, root, version, ByteOrder.LITTLE_ENDIAN, reader.unreadableTensor())
                .withNames(listed, List.copyOf(paths));
    }

    /** One ModuleDef, flattened in pre-order: its parameter and buffer names, its submodule names. */
    private record Module(List<String> parameters, List<String> buffers, List<String> submodules) {
    }

    /**
     * Emits the module as a dict: each ParameterDef's tensor by name, in order, then each submodule
     * as a dict; records the module's members in {@code modules} (pre-order).
     */
    private void module(Map<String, Object> def, String path, Emitter out, List<Object> tensorDefs, int[] memo,
                        List<Module> modules) throws CheckpointException {
        // No depth check here: each module level is two JSON levels (an object in a submodules
        // array), so Json.parse's nesting limit bounds this recursion; the module count is bounded
        // by model.json's size (ReadOptions.maxPickleBytes).
        Module mod = new Module(new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
        modules.add(mod);
        Set<String> members = new HashSet<>();
        out.dict();
        for (Object p : list(def.getOrDefault("parameters", List.of()), "parameters")) {
            Map<String, Object> pd = object(p, "a ParameterDef");
            String name = string(pd.get("name"), "a ParameterDef's name");
            if (!members.add(name)) { // safety: v1-member-unique
                throw CheckpointException.at(Kind.MALFORMED, "model.json", -1, "module '" + path + "' has two "
                        + "members named '" + name + "'");
            }
            boolean buffer = Boolean.TRUE.equals(pd.getOrDefault("isBuffer", pd.get("is_buffer")));
            (buffer ? mod.buffers() : mod.parameters()).add(name);
            long id = integer(pd.getOrDefault("tensorId", pd.getOrDefault("tensor_id", BigDecimal.ZERO)),
                    "tensorId", 0);
            if (id >= tensorDefs.size()) { // safety: v1-tensor-id
                throw CheckpointException.at(Kind.MALFORMED, "model.json", -1, "parameter '" + name + "' of module '"
                        + path + "' names tensor " + id + " but the table has " + tensorDefs.size());
            }
            out.string(name);
            tensor((int) id, tensorDefs, memo, out);
        }
        for (Object s : list(def.getOrDefault("submodules", List.of()), "submodules")) {
            Map<String, Object> sd = object(s, "a ModuleDef");
            String name = string(sd.get("name"), "a ModuleDef's name");
            if (!members.add(name)) {
                throw CheckpointException.at(Kind.MALFORMED, "model.json", -1, "module '" + path + "' has two "
                        + "members named '" + name + "'");
            }
            if (sd.containsKey("getStateAttributeId") || sd.containsKey("get_state_attribute_id")) {
                throw CheckpointException.at(Kind.UNSUPPORTED, "model.json", -1, "module '" + path + name
                        + "' restores itself with __setstate__, which this reader does not run");
            }
            mod.submodules().add(name);
            out.string(name);
            module(sd, path + name + ".", out, tensorDefs, memo, modules);
        }
        out.setItems();
    }

    /** The tensor of table entry {@code id}: emitted once, then fetched from the memo (one tensor, shared). */
    private void tensor(int id, List<Object> tensorDefs, int[] memo, Emitter out) throws CheckpointException {
        if (memo[id] > 0) {
            out.get(memo[id] - 1);
            return;
        }
        Map<String, Object> t = object(tensorDefs.get(id), "a TensorDef");
        if (Boolean.TRUE.equals(t.getOrDefault("isQuantized", t.get("is_quantized")))) {
            throw CheckpointException.at(Kind.UNSUPPORTED, "model.json", -1, "tensor " + id
                    + " is quantized, which this layout's reader is not implemented for");
        }
        DType dtype = dtype(t.getOrDefault("dataType", t.get("data_type")));
        if (dtype == null) { // safety: v1-dtype
            throw CheckpointException.at(Kind.UNSUPPORTED, "model.json", -1, "tensor " + id + " has data type "
                    + t.getOrDefault("dataType", t.get("data_type")) + ", which torch cannot load as a tensor");
        }
        String key = string(object(t.get("data"), "a TensorDef's data").get("key"), "a TensorDef's data key");
        ZipContainer.Entry rec = zip.entry(key).orElseThrow(() -> CheckpointException.at(Kind.MALFORMED, key, -1,
                "tensor " + id + " names record " + key + ", which the archive lacks"));
        Object device = t.get("device");
        String location = device instanceof String d ? d : "cpu";
        out.global("torch._utils", "_rebuild_tensor_v3");
        out.mark();
        out.storage(key, location, rec.size());
        out.integer(integer(t.getOrDefault("offset", BigDecimal.ZERO), "offset", Long.MIN_VALUE));
        out.mark();
        for (Object d : list(t.getOrDefault("dims", List.of()), "dims")) {
            out.integer(integer(d, "dims", Long.MIN_VALUE));
        }
        out.tuple();
        out.mark();
        for (Object s : list(t.getOrDefault("strides", List.of()), "strides")) {
            out.integer(integer(s, "strides", Long.MIN_VALUE));
        }
        out.tuple();
        out.bool(Boolean.TRUE.equals(t.getOrDefault("requiresGrad", t.get("requires_grad"))));
        out.global("collections", "OrderedDict");
        out.emptyTuple();
        out.reduce();
        out.global("torch", dtype.pythonName());
        out.tuple();
        out.reduce();
        memo[id] = out.put() + 1;
    }

    /** The state_dict names of the module tree read back from the pickle. */
    private static int stateDict(RawDict module, List<Module> modules, int index, String prefix,
                                 Map<String, Object> names, List<String> paths) {
        Module m = modules.get(index);
        paths.add(prefix.isEmpty() ? "" : prefix.substring(0, prefix.length() - 1));
        for (String p : m.parameters()) {
            names.put(prefix + p, module.items.get(p));
        }
        for (String b : m.buffers()) {
            names.put(prefix + b, module.items.get(b));
        }
        int next = index + 1;
        for (String s : m.submodules()) {
            next = stateDict((RawDict) module.items.get(s), modules, next, prefix + s + ".", names, paths);
        }
        return next;
    }

    private static Object field(Map<String, Object> m, String name, String... aliases) throws CheckpointException {
        if (m.containsKey(name)) {
            return m.get(name);
        }
        for (String a : aliases) {
            if (m.containsKey(a)) {
                return m.get(a);
            }
        }
        throw CheckpointException.at(Kind.MALFORMED, "model.json", -1, "model.json has no " + name);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> object(Object o, String what) throws CheckpointException {
        if (o instanceof Map<?, ?> m) { // safety: v1-json-types
            return (Map<String, Object>) m;
        }
        throw CheckpointException.at(Kind.MALFORMED, "model.json", -1, what + " is not a JSON object");
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(Object o, String what) throws CheckpointException {
        if (o instanceof List<?> l) {
            return (List<Object>) l;
        }
        throw CheckpointException.at(Kind.MALFORMED, "model.json", -1, what + " is not a JSON array");
    }

    private static String string(Object o, String what) throws CheckpointException {
        if (o instanceof String s) {
            return s;
        }
        throw CheckpointException.at(Kind.MALFORMED, "model.json", -1, what + " is not a string");
    }

    /** An int64 as protobuf's JSON mapping writes it: a string of digits or a number. */
    private static long integer(Object o, String what, long min) throws CheckpointException {
        try {
            long v = o instanceof String s ? Long.parseLong(s.strip())
                    : o instanceof BigDecimal n ? n.longValueExact() : Long.MIN_VALUE;
            if (v == Long.MIN_VALUE || v < min) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException | ArithmeticException e) {
            throw CheckpointException.at(Kind.MALFORMED, "model.json", -1, what + " is " + o + ", not an int64"
                    + (min == 0 ? " of at least 0" : ""));
        }
    }

    /** Writes the pickle (protocol 2) that stands for the module tree. */
    private static final class Emitter {
        private final ByteArrayOutputStream b = new ByteArrayOutputStream();
        private int memo;

        void proto() {
            b.write(0x80);
            b.write(2);
        }

        void stop() {
            b.write('.');
        }

        void dict() {
            b.write('}');
            b.write('(');
        }

        void setItems() {
            b.write('u');
        }

        void mark() {
            b.write('(');
        }

        void tuple() {
            b.write('t');
        }

        void emptyTuple() {
            b.write(')');
        }

        void reduce() {
            b.write('R');
        }

        void bool(boolean v) {
            b.write(v ? 0x88 : 0x89);
        }

        void string(String s) {
            byte[] u = s.getBytes(StandardCharsets.UTF_8);
            b.write('X');
            le(u.length, 4);
            b.writeBytes(u);
        }

        void global(String module, String name) {
            b.write('c');
            b.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.UTF_8));
        }

        /** LONG1 of 8 bytes, two's complement: any int64. */
        void integer(long v) {
            b.write(0x8a);
            b.write(8);
            le(v, 8);
        }

        /** An untyped storage of {@code nbytes} bytes in record {@code key}; each tensor names its dtype. */
        void storage(String key, String location, long nbytes) {
            mark();
            string("storage");
            global("torch.storage", "UntypedStorage");
            string(key);
            string(location);
            integer(nbytes);
            tuple();
            b.write('Q');
        }

        /** LONG_BINPUT of the value on top; returns its memo index. */
        int put() {
            b.write('r');
            le(memo, 4);
            return memo++;
        }

        void get(int index) {
            b.write('j');
            le(index, 4);
        }

        private void le(long v, int n) {
            for (int i = 0; i < n; i++) {
                b.write((int) (v >>> (8 * i)) & 0xFF);
            }
        }

        byte[] bytes() {
            return b.toByteArray();
        }
    }
}
