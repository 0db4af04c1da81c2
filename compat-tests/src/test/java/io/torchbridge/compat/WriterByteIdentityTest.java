package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.torchbridge.reader.PyDict;
import io.torchbridge.reader.PyTuple;
import io.torchbridge.writer.CheckpointWriter;
import io.torchbridge.writer.NewTensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The same content built in Java and in Python: our file has torch 2.14's bytes, the
 * serialization id's digits aside.
 */
class WriterByteIdentityTest {
    @TempDir
    Path tmp;

    private static final String PYTHON = String.join("\n",
            "import sys, collections, torch",
            "sd = collections.OrderedDict()",
            "sd['fc.weight'] = torch.arange(12, dtype=torch.float32).reshape(3, 4)",
            "sd['fc.bias'] = torch.arange(3, dtype=torch.float32)",
            "sd['bn.num_batches_tracked'] = torch.tensor(5)",
            "sd['half'] = torch.arange(6, dtype=torch.float32).reshape(2, 3).to(torch.bfloat16).t()",
            "sd['u16'] = torch.arange(4, dtype=torch.int32).to(torch.uint16)",
            "sd._metadata = collections.OrderedDict([('', {'version': 1}), ('fc', {'version': 1}), ('bn', {'version': 2})])",
            "w, b = sd['fc.weight'], sd['fc.bias']",
            "ckpt = {'model': sd,",
            "        'optimizer': {'state': {0: {'step': torch.tensor(3.0), 'exp_avg': w[1]}},",
            "                      'param_groups': [{'lr': 0.001, 'betas': (0.9, 0.999), 'eps': 1e-08,",
            "                                        'weight_decay': 0, 'amsgrad': False, 'params': [0, 1]}]},",
            "        'epoch': 7, 'best': -0.5, 'big': 2**70, 'name': 'résumé', 'note': None,",
            "        'blob': b'\\x00\\xff', 'history': [1.0, 2.5]}",
            "torch.save(ckpt, sys.argv[1])");

    @Test
    void javaBuiltCheckpointHasTorchsBytes() throws Exception {
        TorchMatrix.Torch torch = TorchMatrix.require("2.14.1");
        Path theirs = Files.createDirectories(tmp.resolve("torch")).resolve("same_content.pt");
        torch.run(120, "-c", PYTHON, theirs.toString());

        float[] w = new float[12];
        for (int i = 0; i < 12; i++) {
            w[i] = i;
        }
        NewTensor weight = NewTensor.of(w, 3, 4);
        NewTensor bias = NewTensor.of(new float[] {0, 1, 2}, 3);
        // bfloat16 of 0..5 is exact: the high halves of the float32 bit patterns; then .t()
        byte[] bf = new byte[12];
        for (int i = 0; i < 6; i++) {
            int bits = Float.floatToIntBits(i) >>> 16;
            bf[2 * i] = (byte) bits;
            bf[2 * i + 1] = (byte) (bits >>> 8);
        }
        NewTensor half = NewTensor.ofBytes(bf, io.torchbridge.reader.DType.BFLOAT16, 2, 3)
                .view(0, new long[] {3, 2}, new long[] {1, 3});
        NewTensor u16 = NewTensor.ofBytes(new byte[] {0, 0, 1, 0, 2, 0, 3, 0}, io.torchbridge.reader.DType.UINT16, 4);

        Map<Object, Object> sd = new LinkedHashMap<>();
        sd.put("fc.weight", weight);
        sd.put("fc.bias", bias);
        sd.put("bn.num_batches_tracked", NewTensor.of(new long[] {5}));
        sd.put("half", half);
        sd.put("u16", u16);
        Map<Object, Object> meta = new LinkedHashMap<>();
        meta.put("", Map.of("version", 1L));
        meta.put("fc", Map.of("version", 1L));
        meta.put("bn", Map.of("version", 2L));
        PyDict model = new PyDict(PyDict.ORDERED_DICT, sd,
                Map.of("_metadata", new PyDict(PyDict.ORDERED_DICT, meta, Map.of())));

        Map<Object, Object> state0 = new LinkedHashMap<>();
        state0.put("step", NewTensor.of(new float[] {3}));
        state0.put("exp_avg", weight.view(4, new long[] {4}, new long[] {1}));
        Map<Object, Object> group = new LinkedHashMap<>();
        group.put("lr", 0.001);
        group.put("betas", PyTuple.of(0.9, 0.999));
        group.put("eps", 1e-08);
        group.put("weight_decay", 0L);
        group.put("amsgrad", false);
        group.put("params", List.of(0L, 1L));
        Map<Object, Object> optimizer = new LinkedHashMap<>();
        optimizer.put("state", Map.of(0L, state0));
        optimizer.put("param_groups", List.of(group));

        Map<Object, Object> ckpt = new LinkedHashMap<>();
        ckpt.put("model", model);
        ckpt.put("optimizer", optimizer);
        ckpt.put("epoch", 7L);
        ckpt.put("best", -0.5);
        ckpt.put("big", java.math.BigInteger.TWO.pow(70));
        ckpt.put("name", "résumé");
        ckpt.put("note", null);
        ckpt.put("blob", new byte[] {0, (byte) 0xff});
        ckpt.put("history", List.of(1.0, 2.5));

        Path ours = Files.createDirectories(tmp.resolve("java")).resolve("same_content.pt");
        CheckpointWriter.save(ckpt, ours);

        byte[] want = Files.readAllBytes(theirs);
        byte[] got = Files.readAllBytes(ours);
        ConvertByteIdentityTest.maskSerializationId(want);
        ConvertByteIdentityTest.maskSerializationId(got);
        assertEquals(want.length, got.length, "length");
        for (int i = 0; i < want.length; i++) {
            if (want[i] != got[i]) {
                throw new AssertionError("first difference at byte " + i);
            }
        }
    }
}
