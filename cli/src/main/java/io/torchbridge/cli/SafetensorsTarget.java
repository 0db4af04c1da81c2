package io.torchbridge.cli;

import io.torchbridge.reader.Checkpoint;
import io.torchbridge.reader.CheckpointException;
import io.torchbridge.reader.CheckpointException.Kind;
import io.torchbridge.reader.PyDict;
import io.torchbridge.reader.PyTuple;
import io.torchbridge.reader.Tensor;
import io.torchbridge.reader.UnreadableTensor;
import io.torchbridge.writer.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * A safetensors file, as {@code safetensors.torch.save_file} writes it: the checkpoint's tensors
 * by name. What it cannot hold is refused by name with the flag that allows it:
 * {@code --materialize} for views and tensors sharing memory, {@code --drop-values} for
 * non-tensor values (each one left out is listed on stderr). The metadata is the input's own
 * (a safetensors input's {@code __metadata__}), else {@code {"format": "pt"}}, which
 * huggingface_hub and transformers write and check for.
 */
final class SafetensorsTarget implements ConvertTarget {
    @Override
    public String name() {
        return "safetensors";
    }

    @Override
    public boolean matches(Path out, ConvertCommand.Settings settings) {
        Path name = out.getFileName();
        return name != null && name.toString().endsWith(".safetensors");
    }

    @Override
    public void write(Checkpoint in, Path out, ConvertCommand.Settings settings) throws IOException {
        if (!in.ambiguousNames().isEmpty()) {
            throw CheckpointException.of(Kind.UNSUPPORTED, "safetensors names each tensor once, but two paths give "
                    + "different tensors the names " + String.join(", ", in.ambiguousNames()));
        }
        if (!in.unreadable().isEmpty()) {
            throw CheckpointException.of(Kind.UNSUPPORTED, "these tensors cannot be read, so not written: "
                    + String.join(", ", in.unreadable().stream().map(UnreadableTensor::name).toList()));
        }
        if (in.stateDict().isEmpty()) { // a TorchScript archive becomes its state_dict: only tensors
            List<String> values = new ArrayList<>();
            values("", in.root(), values);
            if (!values.isEmpty() && !settings.dropValues()) {
                throw CheckpointException.of(Kind.UNSUPPORTED, "safetensors holds tensors only; these values would "
                        + "be lost: " + String.join(", ", values) + "; --drop-values leaves them out");
            }
            for (String v : values) {
                System.err.println("convert: left out " + v);
            }
        }
        Map<String, String> metadata = in.metadata().isEmpty() ? Map.of("format", "pt") : in.metadata();
        try {
            SafetensorsWriter.save(in.tensors(), metadata, out, settings.writeOptions(), settings.materialize());
        } catch (SafetensorsWriter.Unrepresentable e) {
            throw CheckpointException.of(Kind.UNSUPPORTED, e.getMessage()
                    + "; --materialize writes each as a separate contiguous copy").withCause(e);
        } catch (IllegalArgumentException e) {
            throw CheckpointException.of(Kind.UNSUPPORTED, e.getMessage()).withCause(e);
        }
    }

    /**
     * Every non-tensor value under {@code v} by its path (keys joined with '.', as tensor names
     * are), with its value; a container holding no tensor counts as one value.
     */
    private static void values(String path, Object v, List<String> out) {
        if (v instanceof Tensor) {
            return;
        }
        if (holdsTensor(v)) {
            if (v instanceof PyDict d) {
                d.items().forEach((k, x) -> values(child(path, String.valueOf(k)), x, out));
            } else {
                int i = 0;
                for (Object x : (Collection<?>) (v instanceof PyTuple t ? t.items() : v)) {
                    values(child(path, Integer.toString(i++)), x, out);
                }
            }
            return;
        }
        String shown = repr(v, 0);
        out.add((path.isEmpty() ? "(the root)" : path) + " = " + (shown.length() > 60 ? shown.substring(0, 57) + "..." : shown));
    }

    /** Roughly Python's repr, cut short: enough to recognise the value in a message. */
    private static String repr(Object v, int depth) {
        if (depth > 3) {
            return "...";
        }
        if (v == null) {
            return "None";
        }
        if (v instanceof Boolean b) {
            return b ? "True" : "False";
        }
        if (v instanceof String s) {
            return "'" + s + "'";
        }
        if (v instanceof byte[] b) {
            return "bytes of length " + b.length;
        }
        if (v instanceof PyTuple t) {
            return "(" + String.join(", ", t.items().stream().map(x -> repr(x, depth + 1)).toList())
                    + (t.size() == 1 ? ",)" : ")");
        }
        if (v instanceof List<?> l) {
            return "[" + String.join(", ", l.stream().map(x -> repr(x, depth + 1)).toList()) + "]";
        }
        if (v instanceof PyDict d) {
            return "{" + String.join(", ", d.items().entrySet().stream()
                    .map(e -> repr(e.getKey(), depth + 1) + ": " + repr(e.getValue(), depth + 1)).toList()) + "}";
        }
        return String.valueOf(v);
    }

    private static boolean holdsTensor(Object v) {
        if (v instanceof Tensor) {
            return true;
        }
        if (v instanceof PyDict d) {
            return d.items().values().stream().anyMatch(SafetensorsTarget::holdsTensor);
        }
        if (v instanceof PyTuple t) {
            return t.items().stream().anyMatch(SafetensorsTarget::holdsTensor);
        }
        if (v instanceof List<?> l) {
            return l.stream().anyMatch(SafetensorsTarget::holdsTensor);
        }
        return false;
    }

    private static String child(String path, String key) {
        return path.isEmpty() ? key : path + "." + key;
    }
}
