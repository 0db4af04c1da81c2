package io.torchbridge.reader.internal.pickle;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Set;

/**
 * The globals PyTorch's {@code weights_only=True} unpickler accepts by default, and the modules it
 * always blocks ({@code torch/_weights_only_unpickler.py}). The list is PyTorch's own, printed by
 * torch 2.14 ({@code fixtures/allowlist.py}) into {@code weights-only-allowlist.txt}. A constant
 * table, not a registry: extra globals come per reader from ReadOptions.
 */
public final class Allowlist {
    private static final Set<String> BLOCKED_MODULES = Set.of("sys", "os", "posix", "nt");
    private static final Set<String> ALLOWED = load();

    private Allowlist() {
    }

    private static Set<String> load() {
        Set<String> s = new HashSet<>();
        try (InputStream in = Allowlist.class.getResourceAsStream("weights-only-allowlist.txt")) {
            if (in == null) {
                throw new IllegalStateException("weights-only-allowlist.txt is missing from the reader jar");
            }
            BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            for (String line; (line = r.readLine()) != null; ) {
                line = line.strip();
                if (!line.isEmpty() && !line.startsWith("#")) {
                    s.add(line);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return Set.copyOf(s);
    }

    /**
     * The module a global names, spelled as the allowlist spells it: the one module-name
     * normalisation of the reader and the scanner. Protocol-2 pickles written by Python 2 name
     * {@code __builtin__} and {@code copy_reg} (CPython's {@code Lib/_compat_pickle.py}, whose
     * NAME_MAPPING and IMPORT_MAPPING {@code torch/_weights_only_unpickler.py,
     * _read_global_instruction} applies); files saved before torch 1.8 name {@code torch/_tensor.py}
     * "torch.tensor" ({@code torch/serialization.py, load_module_mapping}). The rest of those tables
     * renames Python 2 names to nothing on the allowlist, so a refusal names them as the file does.
     */
    static String module(String module) {
        return switch (module) {
            case "__builtin__" -> "builtins";
            case "copy_reg" -> "copyreg";
            case "torch.tensor" -> "torch._tensor";
            default -> module;
        };
    }

    /** Whether PyTorch blocks {@code module} whatever the allowlist says. */
    public static boolean isBlockedModule(String module) {
        int dot = module.indexOf('.');
        return BLOCKED_MODULES.contains(dot < 0 ? module : module.substring(0, dot));
    }

    /**
     * Whether {@code module.name} is one of the globals only TorchScript's C++ unpickler knows
     * (torch/csrc/jit/serialization/unpickler.cpp, readGlobal), admitted in a TorchScript archive's
     * pickle and nowhere else: the archive's own classes, {@code __torch__.*}, which torch builds
     * from the archive's code (here: inert objects whose BUILD state is their attribute dict), and
     * the helpers of torch/jit/_pickle.py that tag lists and dicts with their static type.
     */
    public static boolean isTorchScriptGlobal(String module, String name) {
        if (module.equals("__torch__") || module.startsWith("__torch__.")) {
            return true;
        }
        return module.equals("torch.jit._pickle") && switch (name) {
            case "build_intlist", "build_tensorlist", "build_doublelist", "build_boollist", "restore_type_tag",
                 "build_tensor_from_id" -> true;
            default -> false;
        };
    }

    /**
     * Whether {@code module.name} is one of the classes a torch.distributed.checkpoint
     * {@code .metadata} pickle is made of ({@code torch/distributed/checkpoint/metadata.py} and
     * {@code filesystem.py}, {@code _StorageInfo}; {@code StorageMeta.checkpoint_id} may be a
     * {@code pathlib} path), admitted in that pickle and nowhere else, as inert objects whose BUILD
     * state is their field dict. torch itself reads the file with plain {@code pickle.load}.
     */
    public static boolean isDcpMetadataGlobal(String module, String name) {
        return switch (module) {
            case "torch.distributed.checkpoint.metadata" -> switch (name) {
                case "Metadata", "TensorStorageMetadata", "BytesStorageMetadata", "ChunkStorageMetadata",
                     "TensorProperties", "MetadataIndex", "StorageMeta", "_MEM_FORMAT_ENCODING" -> true;
                default -> false;
            };
            case "torch.distributed.checkpoint.filesystem" -> name.equals("_StorageInfo");
            case "pathlib" -> name.equals("PosixPath") || name.equals("WindowsPath") || name.equals("PurePosixPath")
                    || name.equals("PureWindowsPath");
            default -> false;
        };
    }

    /** Whether {@code torch.load(weights_only=True)} accepts {@code module.name} by default. */
    public static boolean allowedByDefault(String fullName) {
        return ALLOWED.contains(fullName);
    }
}
