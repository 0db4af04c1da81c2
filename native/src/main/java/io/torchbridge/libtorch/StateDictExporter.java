package io.torchbridge.libtorch;

import io.torchbridge.libtorch.internal.Devices;
import io.torchbridge.libtorch.internal.ModuleTree;
import io.torchbridge.libtorch.internal.Snapshots;
import io.torchbridge.reader.PyDict;
import io.torchbridge.writer.CheckpointWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Module;

/**
 * {@code torch.save(model.state_dict(), path)} for a libtorch module built in Java: an
 * {@code OrderedDict} of its parameters and buffers under Python's keys and in Python's order,
 * detached (no {@code requires_grad}), with the {@code _metadata} of module versions
 * {@code state_dict()} attaches. Python loads the file with
 * {@code model.load_state_dict(torch.load(path, weights_only=True), strict=True)} into the same
 * architecture.
 *
 * <p>Each tensor's storage is copied once into the Java heap when the dict is made, so training
 * can go on before the dict is saved. Tensors are tagged with their device as {@code torch.save}
 * tags them ({@code cuda:0} for a CUDA module, which Python then loads only onto a GPU or with a
 * {@code map_location}) unless a location is given.
 */
public final class StateDictExporter {
    private StateDictExporter() {
    }

    /**
     * {@return the module's state dict, each tensor tagged with its device}
     *
     * @param module a libtorch module built in Java
     */
    public static PyDict stateDict(Module module) {
        return stateDict(module, null);
    }

    /**
     * {@return the module's state dict with every tensor tagged {@code location} ({@code "cpu"} lets Python
     * load a CUDA module's weights anywhere), or each with its device when {@code null}}
     *
     * @param module   a libtorch module built in Java
     * @param location the saved location tag for every tensor, or {@code null}
     */
    public static PyDict stateDict(Module module, String location) {
        List<ModuleTree.Node> tree = ModuleTree.walk(module);
        Snapshots snap = new Snapshots(location == null ? null : Devices.normalize(location));
        Map<Object, Object> items = new LinkedHashMap<>();
        ModuleTree.stateDict(tree).forEach((k, t) -> items.put(k, snap.convert(t, k).withRequiresGrad(false)));
        Map<Object, Object> meta = new LinkedHashMap<>();
        for (ModuleTree.Node n : tree) {
            // torch/nn/modules/module.py, state_dict: _metadata[prefix[:-1]] = dict(version=cls._version)
            meta.put(n.path(), new PyDict(PyDict.DICT, Map.of("version", n.version()), Map.of()));
        }
        return new PyDict(PyDict.ORDERED_DICT, items, Map.of("_metadata", new PyDict(PyDict.ORDERED_DICT, meta, Map.of())));
    }

    /**
     * {@code torch.save(module.state_dict(), target)}.
     *
     * @param module a libtorch module built in Java
     * @param target the file to write; replaced atomically
     * @throws IOException the file cannot be written
     */
    public static void save(Module module, Path target) throws IOException {
        CheckpointWriter.save(stateDict(module), target);
    }
}
