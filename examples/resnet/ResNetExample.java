package resnet;

import common.Reference;
import common.Weights;
import java.nio.file.Path;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

/**
 * torchvision's ResNet-18 and ResNet-50, built in Java, with the weights Python saved, in eval
 * mode (BatchNorm uses the running statistics), on Python's input batch: the logits must be
 * Python's within {@link Reference#TOLERANCE} relative.
 *
 * <pre>
 *   python3 examples/resnet/resnet.py /tmp/resnet                # Python: weights, input, logits
 *   java ... resnet.ResNetExample /tmp/resnet                    # Java: loads, runs, compares
 *   java ... resnet.ResNetExample /tmp/resnet .safetensors -shards   # the twin's other weight files
 *   java ... resnet.ResNetExample /tmp/resnet --device cuda:0    # the same on the GPU
 *   java ... resnet.ResNetExample /tmp/resnet --zero-copy        # weights as views of the file
 * </pre>
 *
 * The arguments after the folder pick which of the twin's weight files to load, each in turn into
 * a fresh model: {@code .pt} (the default), {@code .safetensors}, {@code -shards} (the folder of
 * Hugging Face shards with its index). {@code --device D} runs on {@code D} (default {@code cpu}):
 * the model moved there before loading, the input there, the logits back on the CPU for the
 * comparison. Exit status 0 when every output matches, 1 when one does not.
 */
public final class ResNetExample {
    private ResNetExample() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        String device = Weights.device(System.out, args);
        boolean ok = true;
        for (String suffix : Weights.suffixes(args)) {
            for (String arch : new String[] {"resnet18", "resnet50"}) {
                ResNet model = arch.equals("resnet18") ? ResNet.resnet18() : ResNet.resnet50();
                model.to(new Device(device), false);
                Weights.load(System.out, model, dir.resolve(arch + suffix), Weights.loader(args).build());
                model.eval();
                try (Reference ref = Reference.open(dir, arch, device); NoGradGuard noGrad = new NoGradGuard()) {
                    Tensor logits = model.forward(ref.tensor("input"));
                    ref.compare(System.out, arch + " logits (eval)", logits, "output");
                    ok &= ref.passed();
                }
            }
        }
        System.out.println(ok ? "PASS" : "FAIL");
        System.exit(ok ? 0 : 1);
    }
}
