package io.torchbridge.reader;

import java.util.Map;

/**
 * A tensor the file holds but this version cannot represent (one rebuilt by a function it does
 * not read), listed under its name with the reason instead of being left out: it appears in
 * {@link Checkpoint#unreadable()}, and its inert call stays in the tree ({@link Checkpoint#value}).
 *
 * @param name    the name it would have as a tensor ({@code fc.weight})
 * @param rebuild the function the pickle calls to rebuild it ({@code torch._utils._rebuild_qtensor})
 * @param reason  what it is and why it is not read
 */
public record UnreadableTensor(String name, String rebuild, String reason) {
    /** What each rebuild function PyTorch writes makes (torch/_utils.py, torch/_tensor.py). */
    private static final Map<String, String> WHAT = Map.of(
            "_rebuild_qtensor", "a quantized tensor",
            "_rebuild_sparse_tensor", "a sparse tensor",
            "_rebuild_sparse_csr_tensor", "a sparse CSR tensor",
            "_rebuild_nested_tensor", "a nested tensor",
            "_rebuild_meta_tensor_no_storage", "a meta tensor (it has no data)",
            "_rebuild_wrapper_subclass", "a tensor subclass without storage",
            "_rebuild_device_tensor_from_numpy", "a tensor stored as a NumPy array",
            "_rebuild_from_type_v2", "a tensor of a subclass this version does not know",
            "_rebuild_parameter", "a parameter around a tensor this version does not read",
            "_rebuild_parameter_with_state", "a parameter around a tensor this version does not read");

    /**
     * Whether a call to {@code fn} makes a tensor: PyTorch's rebuild functions, all named
     * {@code _rebuild_*} in {@code torch._utils} or {@code torch._tensor}. The reader turns the ones
     * it knows into tensors; a call still inert here is one it does not.
     */
    static boolean isTensorLike(PyGlobal fn) {
        return (fn.module().equals("torch._utils") || fn.module().equals("torch._tensor"))
                && fn.name().startsWith("_rebuild");
    }

    static UnreadableTensor of(String name, PyObject call) {
        String fn = call.callable().fullName();
        String what = WHAT.getOrDefault(call.callable().name(), "a tensor");
        if (call.callable().name().equals("_rebuild_from_type_v2") && call.args().size() > 1
                && call.args().get(1) instanceof PyGlobal type) {
            what = "a tensor of the subclass " + type.fullName();
        }
        return new UnreadableTensor(name, fn, what + ", rebuilt by " + fn + ", which this version does not read");
    }
}
