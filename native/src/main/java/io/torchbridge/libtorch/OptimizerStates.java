package io.torchbridge.libtorch;

import io.torchbridge.libtorch.internal.Devices;
import io.torchbridge.libtorch.internal.ModuleTree;
import io.torchbridge.libtorch.internal.OptimizerArchives;
import io.torchbridge.libtorch.internal.ScalarTypes;
import io.torchbridge.libtorch.internal.Snapshots;
import io.torchbridge.reader.DType;
import io.torchbridge.reader.PyDict;
import io.torchbridge.reader.PyTuple;
import io.torchbridge.writer.NewTensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.bytedeco.pytorch.Adam;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.IValue;
import org.bytedeco.pytorch.InputArchive;
import org.bytedeco.pytorch.Optimizer;
import org.bytedeco.pytorch.OptimizerParamGroupVector;
import org.bytedeco.pytorch.OutputArchive;
import org.bytedeco.pytorch.SGD;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.Tuple;

/**
 * libtorch's Adam, AdamW and SGD state in the layout of PyTorch's {@code optimizer.state_dict()},
 * both ways, so that training moves between Java and Python without losing a step.
 *
 * <pre>{@code
 * Map<String, Object> ckpt = new LinkedHashMap<>();
 * ckpt.put("model", StateDictExporter.stateDict(model));
 * ckpt.put("optimizer", OptimizerStates.export(adam));
 * CheckpointWriter.save(ckpt, path);
 * // Python: model.load_state_dict(c["model"]); opt = torch.optim.Adam(model.parameters(), ...);
 * //         opt.load_state_dict(c["optimizer"])   -- and the next step matches Java's
 * }</pre>
 *
 * <p>The layout is torch 2.14's: {@code {'state': {i: {...}}, 'param_groups': [{..., 'params': [i, ...]}]}},
 * parameters numbered across groups in order. Adam's per-parameter state is {@code step} (a 0-d
 * float32 tensor), {@code exp_avg}, {@code exp_avg_sq} (and {@code max_exp_avg_sq} with amsgrad);
 * SGD's is {@code momentum_buffer}. The hyperparameters libtorch has (lr, betas, eps,
 * weight_decay, amsgrad; lr, momentum, dampening, weight_decay, nesterov) are carried; the ones it
 * has not get PyTorch's defaults ({@code maximize=False}, {@code foreach=None}, ...). Python must
 * create its optimizer over the parameters in the same order ({@code model.parameters()} of the
 * same architecture gives it).
 */
public final class OptimizerStates {
    private enum Kind { ADAM, ADAMW, SGD }

    private OptimizerStates() {
    }

    /**
     * {@return {@code optimizer.state_dict()}, tensors tagged with their device}
     *
     * @param opt a libtorch Adam, AdamW or SGD optimizer
     */
    public static PyDict export(Optimizer opt) {
        return export(opt, null);
    }

    /**
     * {@return {@code optimizer.state_dict()}, state tensors tagged {@code location} ({@code "cpu"}), or with
     * their device when {@code null}} The step counters are CPU tensors, as in PyTorch.
     *
     * @param opt      a libtorch Adam, AdamW or SGD optimizer
     * @param location the saved location tag for the state tensors, or {@code null}
     */
    public static PyDict export(Optimizer opt, String location) {
        Kind kind = kind(opt);
        Snapshots snap = new Snapshots(location == null ? null : Devices.normalize(location));
        InputArchive root = OptimizerArchives.save(opt);
        InputArchive state = OptimizerArchives.archive(root, "state");
        InputArchive groups = OptimizerArchives.archive(root, "param_groups");
        Set<String> withState = OptimizerArchives.keys(state);

        List<Object> pyGroups = new ArrayList<>();
        Map<Object, Object> pyState = new LinkedHashMap<>();
        long index = 0;
        long n = OptimizerArchives.size(groups, "param_groups/size");
        for (long g = 0; g < n; g++) {
            InputArchive group = OptimizerArchives.archive(groups, "param_groups/" + g);
            long count = OptimizerArchives.size(group, "params/size");
            List<Object> indices = new ArrayList<>();
            for (long j = 0; j < count; j++, index++) {
                String key = OptimizerArchives.value(group, "params/" + j).toStringRef().getString();
                indices.add(index);
                if (withState.contains(key)) {
                    pyState.put(index, dict(paramState(kind, OptimizerArchives.archive(state, key), snap,
                            "state." + index)));
                }
            }
            Map<Object, Object> pg = options(kind, OptimizerArchives.archive(group, "options"));
            pg.put("params", indices);
            pyGroups.add(dict(pg));
        }
        Map<Object, Object> out = new LinkedHashMap<>();
        out.put("state", dict(pyState));
        out.put("param_groups", pyGroups);
        return dict(out);
    }

    private static PyDict dict(Map<Object, Object> items) {
        return new PyDict(PyDict.DICT, items, Map.of());
    }

    private static Map<Object, Object> paramState(Kind kind, InputArchive a, Snapshots snap, String name) {
        Map<Object, Object> s = new LinkedHashMap<>();
        if (kind == Kind.SGD) {
            putTensor(s, "momentum_buffer", a, snap, name);
            return s;
        }
        // torch/optim/adam.py keeps the step as a 0-d float32 tensor (_get_scalar_dtype) on the CPU.
        long step = OptimizerArchives.value(a, "step").toInt();
        s.put("step", NewTensor.of(new float[] {step}));
        putTensor(s, "exp_avg", a, snap, name);
        putTensor(s, "exp_avg_sq", a, snap, name);
        putTensor(s, "max_exp_avg_sq", a, snap, name);
        return s;
    }

    private static void putTensor(Map<Object, Object> s, String key, InputArchive a, Snapshots snap, String name) {
        Tensor t = OptimizerArchives.tensor(a, key);
        if (t != null && t.defined()) {
            s.put(key, snap.convert(t, name + "." + key).withRequiresGrad(false));
        }
    }

    /** The param group of torch 2.14 in its key order, from libtorch's options. */
    private static Map<Object, Object> options(Kind kind, InputArchive o) {
        Map<Object, Object> g = new LinkedHashMap<>();
        g.put("lr", OptimizerArchives.value(o, "lr").toDouble());
        if (kind == Kind.SGD) {
            g.put("momentum", pyNumber(OptimizerArchives.value(o, "momentum").toDouble()));
            g.put("dampening", pyNumber(OptimizerArchives.value(o, "dampening").toDouble()));
            g.put("weight_decay", pyNumber(OptimizerArchives.value(o, "weight_decay").toDouble()));
            g.put("nesterov", OptimizerArchives.value(o, "nesterov").toBool());
            g.put("maximize", false);
            g.put("foreach", null);
            g.put("differentiable", false);
            g.put("fused", null);
            return g;
        }
        Tuple betas = OptimizerArchives.value(o, "betas").toTuple();
        g.put("betas", PyTuple.of(betas.elements().get(0).toDouble(), betas.elements().get(1).toDouble()));
        g.put("eps", OptimizerArchives.value(o, "eps").toDouble());
        g.put("weight_decay", pyNumber(OptimizerArchives.value(o, "weight_decay").toDouble()));
        g.put("amsgrad", OptimizerArchives.value(o, "amsgrad").toBool());
        g.put("maximize", false);
        g.put("foreach", null);
        g.put("capturable", false);
        g.put("differentiable", false);
        g.put("fused", null);
        g.put("decoupled_weight_decay", kind == Kind.ADAMW);
        return g;
    }

    /** Python's defaults for these are the int 0, so a zero goes out as one. */
    private static Object pyNumber(double v) {
        return v == 0.0 ? (Object) 0L : (Object) v;
    }

    /**
     * Loads a PyTorch optimizer state dict ({@code ckpt.value("optimizer")}, as
     * {@code optimizer.state_dict()} saved it) into {@code opt}, which must have the same
     * parameter groups with the same number of parameters, in the same order. State tensors go to
     * their parameter's device and, if floating point, dtype, as
     * {@code torch.optim.Optimizer.load_state_dict} casts them. The hyperparameters of each group
     * are replaced by the saved ones, as in PyTorch.
     *
     * @throws IllegalArgumentException the dict does not fit {@code opt}, or asks for behaviour
     *                                  libtorch's optimizer lacks ({@code maximize=True}, ...)
     * @param opt       the libtorch optimizer to fill
     * @param stateDict the saved state dict: a {@link PyDict} with {@code state} and {@code param_groups}
     */
    public static void restore(Optimizer opt, Object stateDict) {
        Kind kind = kind(opt);
        Map<?, ?> sd = dict(stateDict, "optimizer state dict");
        Map<?, ?> pyState = dict(sd.get("state"), "'state'");
        if (!(sd.get("param_groups") instanceof List<?> pyGroups)) {
            throw new IllegalArgumentException("the optimizer state dict has no 'param_groups' list");
        }
        OptimizerParamGroupVector groups = opt.param_groups();
        if (pyGroups.size() != groups.size()) {
            throw new IllegalArgumentException("loaded state dict has a different number of parameter groups ("
                    + pyGroups.size() + ", the optimizer has " + groups.size() + ")");
        }
        OutputArchive root = new OutputArchive();
        OutputArchive state = new OutputArchive(root.compilation_unit());
        OutputArchive archGroups = new OutputArchive(root.compilation_unit());
        List<AutoCloseable> temps = new ArrayList<>();
        try {
            root.write("pytorch_version", new IValue("1.5.0"));
            archGroups.write("param_groups/size", OptimizerArchives.sizeTensor(groups.size()));
            for (int g = 0; g < pyGroups.size(); g++) {
                Map<?, ?> pg = dict(pyGroups.get(g), "param group " + g);
                Tensor[] params = ModuleTree.owned(groups.get(g).params());
                if (!(pg.get("params") instanceof List<?> ids) || ids.size() != params.length) {
                    throw new IllegalArgumentException("loaded state dict contains a parameter group that doesn't "
                            + "match the size of optimizer's group (group " + g + ": " + params.length + " parameters)");
                }
                OutputArchive group = new OutputArchive(root.compilation_unit());
                group.write("params/size", OptimizerArchives.sizeTensor(params.length));
                for (int j = 0; j < params.length; j++) {
                    String key = Long.toUnsignedString(params[j].unsafeGetTensorImpl().address());
                    group.write("params/" + j, new IValue(key));
                    Object s = pyState.get(ids.get(j));
                    if (s != null) {
                        OutputArchive ps = new OutputArchive(root.compilation_unit());
                        writeParamState(kind, dict(s, "state " + ids.get(j)), params[j], ps, temps);
                        state.write(key, ps);
                    }
                }
                OutputArchive options = new OutputArchive(root.compilation_unit());
                writeOptions(kind, pg, options, g);
                group.write("options", options);
                archGroups.write("param_groups/" + g, group);
            }
            root.write("state", state);
            root.write("param_groups", archGroups);
            OptimizerArchives.load(opt, root);
            // Native containers are freed when their Java objects are collected: keep them until here.
            java.lang.ref.Reference.reachabilityFence(groups);
        } finally {
            for (AutoCloseable c : temps) {
                try {
                    c.close();
                } catch (Exception ignored) {
                    // temporaries only
                }
            }
        }
    }

    private static void writeParamState(Kind kind, Map<?, ?> s, Tensor param, OutputArchive ps,
                                        List<AutoCloseable> temps) {
        if (kind == Kind.SGD) {
            writeTensor(s, "momentum_buffer", param, ps, temps);
            return;
        }
        Object step = s.get("step");
        long n;
        if (step instanceof Number num) {
            n = Math.round(num.doubleValue());
        } else if (step instanceof io.torchbridge.reader.Tensor t) {
            n = Math.round(t.toDoubleArray()[0]);
        } else {
            throw new IllegalArgumentException("Adam state without a 'step'");
        }
        ps.write("step", new IValue(n));
        writeTensor(s, "exp_avg", param, ps, temps);
        writeTensor(s, "exp_avg_sq", param, ps, temps);
        writeTensor(s, "max_exp_avg_sq", param, ps, temps);
    }

    /** torch/optim/optimizer.py, _process_value_according_to_param_policy: to the param's device, and dtype if floating. */
    private static void writeTensor(Map<?, ?> s, String key, Tensor param, OutputArchive ps, List<AutoCloseable> temps) {
        Object v = s.get(key);
        if (v == null) {
            return;
        }
        if (!(v instanceof io.torchbridge.reader.Tensor t)) {
            throw new IllegalArgumentException("optimizer state '" + key + "' is not a tensor");
        }
        String device = Devices.name(param.device());
        DType pd = ScalarTypes.of(param.scalar_type());
        LoadOptions o = LoadOptions.defaults().withMapLocation(MapLocation.to(device)).withWritable(true);
        if (pd.family() == DType.Family.FLOAT || pd.family() == DType.Family.COMPLEX) {
            o = o.withCast(t.dtype(), pd);
        }
        NativeTensor n = NativeTensors.load(t, o);
        temps.add(n);
        ps.write(key, n.tensor());
    }

    private static void writeOptions(Kind kind, Map<?, ?> pg, OutputArchive o, int g) {
        refuseIfSet(pg, "maximize", g);
        refuseIfSet(pg, "capturable", g);
        refuseIfSet(pg, "differentiable", g);
        o.write("lr", new IValue(number(pg, "lr", g)));
        if (kind == Kind.SGD) {
            o.write("momentum", new IValue(number(pg, "momentum", g)));
            o.write("dampening", new IValue(number(pg, "dampening", g)));
            o.write("weight_decay", new IValue(number(pg, "weight_decay", g)));
            o.write("nesterov", new IValue(Boolean.TRUE.equals(pg.get("nesterov"))));
            return;
        }
        Object decoupled = pg.get("decoupled_weight_decay");
        if (decoupled != null && (Boolean) decoupled != (kind == Kind.ADAMW)) {
            throw new IllegalArgumentException("param group " + g + " has decoupled_weight_decay=" + decoupled
                    + "; load it into libtorch's " + (kind == Kind.ADAMW ? "Adam" : "AdamW") + " instead");
        }
        if (!(pg.get("betas") instanceof PyTuple betas) || betas.size() != 2) {
            throw new IllegalArgumentException("param group " + g + " has no (beta1, beta2) tuple");
        }
        o.write("betas", new IValue(Tuple.create(new IValue(((Number) betas.get(0)).doubleValue()),
                new IValue(((Number) betas.get(1)).doubleValue()))));
        o.write("eps", new IValue(number(pg, "eps", g)));
        o.write("weight_decay", new IValue(number(pg, "weight_decay", g)));
        o.write("amsgrad", new IValue(Boolean.TRUE.equals(pg.get("amsgrad"))));
    }

    private static void refuseIfSet(Map<?, ?> pg, String flag, int g) {
        if (Boolean.TRUE.equals(pg.get(flag))) {
            throw new IllegalArgumentException("param group " + g + " has " + flag + "=True, which libtorch's "
                    + "optimizers do not offer");
        }
    }

    private static double number(Map<?, ?> pg, String key, int g) {
        if (!(pg.get(key) instanceof Number n)) {
            throw new IllegalArgumentException("param group " + g + " has no number '" + key + "'");
        }
        return n.doubleValue();
    }

    private static Map<?, ?> dict(Object o, String what) {
        if (o instanceof PyDict d) {
            return d.items();
        } else if (o instanceof Map<?, ?> m) {
            return m;
        }
        throw new IllegalArgumentException(what + " is not a dict");
    }

    private static Kind kind(Optimizer opt) {
        // AdamW is not a subclass of Adam in libtorch, but test it first in case a later preset makes it one.
        if (opt instanceof AdamW) {
            return Kind.ADAMW;
        } else if (opt instanceof Adam) {
            return Kind.ADAM;
        } else if (opt instanceof SGD) {
            return Kind.SGD;
        }
        throw new IllegalArgumentException("libtorch's " + opt.getClass().getSimpleName()
                + " has no PyTorch layout here; Adam, AdamW and SGD do");
    }
}
