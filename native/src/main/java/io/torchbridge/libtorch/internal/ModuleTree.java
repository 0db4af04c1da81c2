package io.torchbridge.libtorch.internal;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.bytedeco.pytorch.JitModule;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NamedJitModule;
import org.bytedeco.pytorch.NamedTensor;
import org.bytedeco.pytorch.StringSharedModuleDict;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.named_buffer_iterator;
import org.bytedeco.pytorch.named_buffer_list;
import org.bytedeco.pytorch.named_module_iterator;
import org.bytedeco.pytorch.named_module_list;
import org.bytedeco.pytorch.named_parameter_iterator;
import org.bytedeco.pytorch.named_parameter_list;

/**
 * A libtorch module tree in the order Python's {@code state_dict()} walks an {@code nn.Module}:
 * modules in pre-order, and in each its own parameters, then its own buffers, in registration
 * order. libtorch registers in the same order as Python, so a module built in Java with the
 * same names gives the same keys in the same order.
 */
public final class ModuleTree {
    /**
     * One module of the tree.
     *
     * @param prefix   its key prefix with the trailing dot ({@code ""} for the root, {@code "fc1."})
     * @param kind     libtorch's class for it ({@code torch::nn::LinearImpl}), or the Java class name
     * @param params   its own parameters by local name, in order (handles owned by this node)
     * @param buffers  its own buffers by local name, in order
     * @param children its direct children's local names
     */
    public record Node(String prefix, String kind, Map<String, Tensor> params, Map<String, Tensor> buffers,
                       Set<String> children) {
        /** The {@code _metadata} key: the prefix without its dot. */
        public String path() {
            return prefix.isEmpty() ? "" : prefix.substring(0, prefix.length() - 1);
        }

        /**
         * Python's {@code _version} for the module: 2 for the batch and instance norms (they gained
         * {@code num_batches_tracked} at version 2, torch/nn/modules/batchnorm.py), else 1.
         */
        public long version() {
            return kind.startsWith("BatchNorm") || kind.startsWith("InstanceNorm") ? 2 : 1;
        }
    }

    private ModuleTree() {
    }

    public static List<Node> walk(Module root) {
        List<Node> out = new ArrayList<>();
        out.add(node("", root, root));
        // Without the root: libtorch can only hand out the root as a shared_ptr when it was made as
        // one, which a module constructed directly from Java (new LinearImpl(...)) is not.
        StringSharedModuleDict all = root.named_modules("", false);
        for (long i = 0; i < all.size(); i++) {
            var item = all.get(i);
            out.add(node(item.key().getString() + ".", item.value(), null));
        }
        return out;
    }

    /**
     * The same walk over a TorchScript module. Python sees every scripted submodule as a
     * {@code RecursiveScriptModule} whose {@code _version} is 1, BatchNorm included (the class's
     * own {@code _load_from_state_dict} is not kept by scripting), so every node gets that kind.
     * Its buffers are the archive's buffer attributes, which include the eager module's
     * non-persistent buffers: scripting makes them persistent, and Python's
     * {@code state_dict()} of the loaded module lists them too.
     */
    public static List<Node> walk(JitModule root) {
        List<Node> out = new ArrayList<>();
        walk("", root, out);
        return out;
    }

    /** Python's class name for every scripted module ({@code torch.jit.RecursiveScriptModule}). */
    public static final String SCRIPT_MODULE = "RecursiveScriptModule";

    private static void walk(String prefix, JitModule m, List<Node> out) {
        Map<String, JitModule> children = new LinkedHashMap<>();
        named_module_list list = m.named_children();
        for (named_module_iterator it = list.begin(); it.notEquals(list.end()); it.increment()) {
            NamedJitModule c = it.access();
            children.put(c.name().getString(), new JitModule(c.value()));
        }
        Map<String, Tensor> params = new LinkedHashMap<>();
        named_parameter_list ps = m.named_parameters(false);
        for (named_parameter_iterator it = ps.begin(); it.notEquals(ps.end()); it.increment()) {
            put(params, it.access());
        }
        Map<String, Tensor> buffers = new LinkedHashMap<>();
        named_buffer_list bs = m.named_buffers(false);
        for (named_buffer_iterator it = bs.begin(); it.notEquals(bs.end()); it.increment()) {
            put(buffers, it.access());
        }
        java.lang.ref.Reference.reachabilityFence(list);
        java.lang.ref.Reference.reachabilityFence(ps);
        java.lang.ref.Reference.reachabilityFence(bs);
        out.add(new Node(prefix, SCRIPT_MODULE, params, buffers, children.keySet()));
        children.forEach((name, child) -> walk(prefix + name + ".", child, out));
    }

    /** A handle of its own on the named tensor (the iterator's item is a temporary). */
    private static void put(Map<String, Tensor> into, NamedTensor item) {
        Tensor t = item.value();
        if (t != null && t.defined()) {
            into.put(item.name().getString(), new Tensor(t));
        }
    }

    private static Node node(String prefix, Module m, Module javaObject) {
        return new Node(prefix, kind(javaObject != null ? javaObject : m), tensors(m.named_parameters(false)),
                tensors(m.named_buffers(false)), childNames(m.named_children()));
    }

    /** Every state-dict key of the tree in Python's order, with its tensor. */
    public static Map<String, Tensor> stateDict(List<Node> tree) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Node n : tree) {
            n.params().forEach((k, v) -> out.put(n.prefix() + k, v));
            n.buffers().forEach((k, v) -> out.put(n.prefix() + k, v));
        }
        return out;
    }

    /**
     * The class name Python would print for the module in "Error(s) in loading state_dict for
     * X": a Java subclass's simple name, or libtorch's name without namespace and {@code Impl}.
     */
    public static String pythonName(Module m) {
        if (!m.getClass().getName().startsWith("org.bytedeco.")) {
            return m.getClass().getSimpleName();
        }
        return kind(m);
    }

    private static String kind(Module m) {
        if (!m.getClass().getName().startsWith("org.bytedeco.")) {
            return m.getClass().getSimpleName();
        }
        String n = m.name().getString();
        int colon = n.lastIndexOf(':');
        n = colon >= 0 ? n.substring(colon + 1) : n;
        return n.endsWith("Impl") ? n.substring(0, n.length() - 4) : n;
    }

    /**
     * The dict's tensors as handles of their own. {@code item.value()} points into the dict's
     * memory, which JavaCPP frees once the dict object is collected; a copy of the handle shares
     * the tensor (a reference count) and outlives the dict. Without it the handles dangle and a
     * later call crashes the JVM.
     */
    private static Map<String, Tensor> tensors(StringTensorDict d) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (long i = 0; i < d.size(); i++) {
            var item = d.get(i);
            Tensor t = item.value();
            if (t != null && t.defined()) {
                out.put(item.key().getString(), new Tensor(t));
            }
        }
        java.lang.ref.Reference.reachabilityFence(d);
        return out;
    }

    /** A vector's tensors as handles of their own (see {@link #tensors}). */
    public static Tensor[] owned(org.bytedeco.pytorch.TensorVector v) {
        Tensor[] in = v.get();
        Tensor[] out = new Tensor[in.length];
        for (int i = 0; i < in.length; i++) {
            out[i] = new Tensor(in[i]);
        }
        java.lang.ref.Reference.reachabilityFence(v);
        return out;
    }

    private static Set<String> childNames(StringSharedModuleDict d) {
        Set<String> out = new LinkedHashSet<>();
        for (long i = 0; i < d.size(); i++) {
            out.add(d.get(i).key().getString());
        }
        return out;
    }
}
