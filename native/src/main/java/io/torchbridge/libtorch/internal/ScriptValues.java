package io.torchbridge.libtorch.internal;

import io.torchbridge.libtorch.LoadOptions;
import io.torchbridge.libtorch.MapLocation;
import io.torchbridge.libtorch.NativeTensor;
import io.torchbridge.libtorch.NativeTensors;
import io.torchbridge.reader.PyTuple;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.GenericDict;
import org.bytedeco.pytorch.GenericDictIterator;
import org.bytedeco.pytorch.GenericList;
import org.bytedeco.pytorch.IValue;
import org.bytedeco.pytorch.IValueArrayRef;
import org.bytedeco.pytorch.IValueVector;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.Tuple;
import org.bytedeco.pytorch.Type;
import org.bytedeco.pytorch.global.torch.TypeKind;

/**
 * Java values to TorchScript's {@code IValue}s by the declared type of a {@code forward} argument,
 * and results back. The declared type decides, as the interpreter's own argument check does
 * (torch/csrc/jit/... {@code FunctionSchema::checkAndNormalizeInputs}): a {@code List[Tensor]}
 * must arrive as a list typed {@code Tensor}, which an untyped list of tensors is not.
 *
 * <p>Callers run these inside a {@code PointerScope}; every tensor handed back to Java is retained
 * beyond it (the caller owns it).
 */
public final class ScriptValues {
    private ScriptValues() {
    }

    /**
     * {@code value} as an IValue of the declared type.
     *
     * @param device where checkpoint tensors go (the module's device)
     * @throws IllegalArgumentException the value does not fit the type
     */
    public static IValue toIValue(Object value, Type.TypePtr declared, String name, String device) {
        Type type = declared.get();
        // JavaCPP hands back an enum object of its own making (ordinal 0); intern() gives the constant.
        TypeKind kind = type.kind().intern();
        if (value == null) {
            if (kind == TypeKind.OptionalType || kind == TypeKind.NoneType || kind == TypeKind.AnyType) {
                return new IValue();
            }
            throw mismatch(name, type, null);
        }
        switch (kind) {
            case OptionalType:
                return toIValue(value, type.containedType(0), name, device);
            case TensorType:
                return new IValue(tensor(value, name, type, device));
            case IntType:
                if (value instanceof Long || value instanceof Integer || value instanceof Short || value instanceof Byte) {
                    return new IValue(((Number) value).longValue());
                }
                break;
            case FloatType:
                if (value instanceof Number n) {
                    return new IValue(n.doubleValue());
                }
                break;
            case NumberType:
                if (value instanceof Double || value instanceof Float) {
                    return new IValue(((Number) value).doubleValue());
                } else if (value instanceof Number n) {
                    return new IValue(n.longValue());
                }
                break;
            case BoolType:
                if (value instanceof Boolean b) {
                    return new IValue(b.booleanValue());
                }
                break;
            case StringType:
                if (value instanceof String s) {
                    return new IValue(s);
                }
                break;
            case ListType:
                if (value instanceof List<?> items) {
                    Type.TypePtr element = type.containedType(0);
                    GenericList list = new GenericList(element);
                    for (int i = 0; i < items.size(); i++) {
                        list.push_back(toIValue(items.get(i), element, name + "[" + i + "]", device));
                    }
                    return new IValue(list);
                }
                break;
            case TupleType:
                List<?> items = value instanceof PyTuple t ? t.items() : value instanceof List<?> l ? l : null;
                if (items != null) {
                    long n = type.containedTypeSize();
                    if (items.size() != n) {
                        throw new IllegalArgumentException("argument '" + name + "' is "
                                + type.annotation_str().getString() + ": " + n + " item(s), got " + items.size());
                    }
                    IValueVector elements = new IValueVector();
                    for (int i = 0; i < n; i++) {
                        elements.push_back(toIValue(items.get(i), type.containedType(i), name + "[" + i + "]", device));
                    }
                    return new IValue(Tuple.create(elements));
                }
                break;
            default:
                throw new IllegalArgumentException("argument '" + name + "' is " + type.annotation_str().getString()
                        + ", which this layer cannot build from Java (it takes Tensor, int, float, bool, str, "
                        + "and List, Tuple and Optional of them)");
        }
        throw mismatch(name, type, value);
    }

    private static Tensor tensor(Object value, String name, Type type, String device) {
        if (value instanceof Tensor t) {
            return t;
        } else if (value instanceof NativeTensor n) {
            return n.tensor();
        } else if (value instanceof io.torchbridge.reader.Tensor t) {
            // A copy of its own on the module's device (the module may write into its input), held
            // by a handle of the caller's scope once the NativeTensor lets go of its own.
            try (NativeTensor n = NativeTensors.load(t, LoadOptions.defaults()
                    .withMapLocation(MapLocation.to(device)).withWritable(true))) {
                return new Tensor(n.tensor());
            }
        }
        throw mismatch(name, type, value);
    }

    private static IllegalArgumentException mismatch(String name, Type type, Object value) {
        return new IllegalArgumentException("argument '" + name + "' is " + type.annotation_str().getString()
                + "; got " + (value == null ? "null (None)" : value.getClass().getSimpleName()));
    }

    /**
     * A result in Java terms: Tensor (retained for the caller), Long, Double, Boolean, String,
     * null, List, PyTuple, Map (a dict, in its order).
     *
     * @throws IllegalArgumentException a kind of value Java has no form for here (an object, a future)
     */
    public static Object fromIValue(IValue v) {
        if (v.isNone()) {
            return null;
        } else if (v.isTensor()) {
            // toTensor() points into the IValue, which dies with the scope: a handle of its own
            // (a reference count on the same tensor), retained beyond the scope for the receiver.
            Tensor t = new Tensor(v.toTensor());
            t.retainReference();
            return t;
        } else if (v.isBool()) {
            return v.toBool();
        } else if (v.isInt()) {
            return v.toInt();
        } else if (v.isDouble()) {
            return v.toDouble();
        } else if (v.isString()) {
            return v.toStringRef().getString();
        } else if (v.isTuple()) {
            IValueArrayRef items = v.toTuple().elements().asArrayRef();
            Object[] out = new Object[(int) items.size()];
            for (int i = 0; i < out.length; i++) {
                out[i] = fromIValue(items.get(i));
            }
            return PyTuple.of(out);
        } else if (v.isList()) {
            GenericList l = v.toList();
            List<Object> out = new ArrayList<>();
            for (long i = 0; i < l.size(); i++) {
                out.add(fromIValue(l.get(i)));
            }
            return out;
        } else if (v.isGenericDict()) {
            GenericDict d = v.toGenericDict();
            Map<Object, Object> out = new LinkedHashMap<>();
            for (GenericDictIterator it = d.begin(); it.notEquals(d.end()); it.increment()) {
                var e = it.access();
                out.put(fromIValue(e.key()), fromIValue(e.value()));
            }
            return out;
        }
        throw new IllegalArgumentException("forward returned a " + v.tagKind().getString()
                + ", which has no Java form here");
    }
}
