#!/usr/bin/env bash
# Every CUDA check of the native layer, in one go, on a machine with an NVIDIA GPU: the CudaTest
# class (checkpoint tensors onto cuda:0 with views and sharing kept, CUDA-saved files, dtype casts
# on the GPU, CUDA tensors back to the writer tagged cuda:0 or cpu, state dicts and optimizer
# state of a module on the GPU) and the demo on cuda:0 (Python's weights into libtorch modules on
# the GPU, inference against Python's outputs, training, export, the next step against Python's or
# against Java on the CPU when there is no Python), and TorchScript archives from torch 2.14 run and
# reloaded with new weights on cuda:0 against torch's outputs (ScriptedModuleTest). A run where CUDA is missing FAILS: it sets
# -Dtorchbridge.requireCuda=true, so nothing passes by being skipped.
# The Maven mode also runs the examples (ResNet-18/50, Transformer encoder, LSTM LM, each from its
# .pt, .safetensors and shards) on cuda:0 against their Python twins' CPU outputs
# (ExamplesTest#*OnCuda); the twins need torch, torchvision, safetensors and huggingface_hub
# (torch-matrix.sh's torch 2.14, else $TORCHBRIDGE_PYTHON). The --bundle mode does NOT run the
# examples: their weight files are about 800 MB more; on the GPU machine use the Maven mode for them.
#
#   native/cuda-check.sh               From the repository root, on the GPU machine, with JDK 17 and
#                                      Maven (the wrapper) that can fetch, or already holds, the -gpu
#                                      artifacts. Builds with -Pgpu and runs the checks.
#   native/cuda-check.sh --bundle DIR  Anywhere Maven works (no GPU needed): builds DIR, a folder with
#                                      every jar (the CUDA build of libtorch included), the test
#                                      classes, the fixtures, the demo's Python-made files and run.sh.
#                                      Then, on the GPU machine, with only a JDK 17:  bash DIR/run.sh
#
# What the GPU machine needs either way:
#   - an NVIDIA driver for CUDA 13 (>= 580); libtorch here is built with CUDA 13.1 and cuDNN 9.19;
#   - a JDK 17 (java on the PATH or JAVA_HOME);
#   - cuBLAS, cuDNN, cuSOLVER, cuSPARSE, cuFFT, cuRAND, NCCL, nvJitLink of CUDA 13 on the library
#     path: org.bytedeco's cuda-redist (bundled) has the runtime but not these, which Maven Central
#     does not carry for 1.5.13. This script adds the lib folders of the nvidia-* pip wheels that a
#     CUDA 13 PyTorch installs (python3 -m pip install nvidia-cublas nvidia-cudnn-cu13 ...), or use
#     a CUDA 13 toolkit: LD_LIBRARY_PATH=/usr/local/cuda/lib64;
#   - optionally a python3 with torch: then Python trains and resumes as in the CPU demo (on its
#     CPU); without one the demo uses the files made when the bundle was built.
# Size: the CUDA build of libtorch is a 458 MB jar, cuda-redist 380 MB: the bundle is about 900 MB.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD

# The lib folders of the nvidia-* pip wheels, if python3 has them (a CUDA 13 PyTorch does).
pip_cuda_libs() {
  command -v python3 >/dev/null 2>&1 || return 0
  python3 - <<'EOF' 2>/dev/null || true
import glob, os, site, sys
roots = set(sys.path)
try:
    roots.update(site.getsitepackages())
except Exception:
    pass
try:
    import nvidia
    roots.update(os.path.dirname(p) for p in nvidia.__path__)
except Exception:
    pass
dirs = set()
for r in roots:
    if r and os.path.isdir(os.path.join(r, "nvidia")):
        dirs.update(glob.glob(os.path.join(r, "nvidia", "*", "lib")))
print(":".join(sorted(dirs)))
EOF
}

setup_env() {
  local libs
  libs=$(pip_cuda_libs)
  if [ -n "$libs" ]; then
    export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "cuda-check: CUDA libraries from pip wheels: $libs"
  fi
  if [ -z "${TORCHBRIDGE_PYTHON:-}" ] && command -v python3 >/dev/null 2>&1 && python3 -c 'import torch' 2>/dev/null; then
    export TORCHBRIDGE_PYTHON=python3
  fi
  echo "cuda-check: python for the demo: ${TORCHBRIDGE_PYTHON:-none, so Java on the CPU checks the export instead}"
  command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
}

bundle() {
  local out
  out=$(realpath -m "$1")
  rm -rf "$out"
  mkdir -p "$out/lib" "$out/classes" "$out/fixtures" "$out/demo"
  echo "cuda-check: building with -Pgpu (downloads the CUDA build of libtorch on first use) ..."
  # test-compile, not package: the CLI's shaded jar would swallow the 900 MB of CUDA libraries.
  ./mvnw -B -q -Pgpu -pl compat-tests -am test-compile dependency:build-classpath \
    -Dmdep.outputFile="$out/classpath.txt" -Dmdep.includeScope=test
  # The project's own modules come as class folders (reader/target/classes, native/target/test-classes): each becomes a jar.
  # The console launcher carries JUnit itself; the other jars go in lib/ as they are.
  tr ':' '\n' <"$out/classpath.txt" | grep -vE '/(junit-|opentest4j|apiguardian)' | while read -r entry; do
    if [ -d "$entry" ]; then
      # module-classes.jar or module-test-classes.jar (compat-tests uses native's test classes too)
      (cd "$entry" && jar cf "$out/lib/torchbridge-$(basename "$(dirname "$(dirname "$entry")")")-$(basename "$entry").jar" .)
    elif [ -n "$entry" ]; then
      cp -L "$entry" "$out/lib/"
    fi
  done
  rm "$out/classpath.txt"
  ./mvnw -B -q dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:1.14.1 \
    -DoutputDirectory="$out/lib"
  cp -r native/target/test-classes "$out/classes/native"
  cp -r compat-tests/target/test-classes "$out/classes/compat"
  cp -r fixtures/torch-2.14.1 fixtures/torchscript-2.14.1 "$out/fixtures/"
  cp fixtures/native_demo.py "$out/fixtures/"
  local py=${TORCHBRIDGE_PYTHON:-/var/cache/torchbridge/bin/python-torch-sid}
  if [ -x "$py" ] || command -v "$py" >/dev/null 2>&1; then
    echo "cuda-check: the demo's Python half (train) with $py ..."
    # From the repository root: fixtures/torch-matrix.sh's chroot wrapper sees it and /tmp.
    "$py" fixtures/native_demo.py train "$out/demo" >/dev/null
    echo "cuda-check: TorchScript archives, inputs and torch's outputs with $py ..."
    "$py" fixtures/native_torchscript.py "$out/torchscript" >/dev/null
  else
    echo "cuda-check: no python with torch here; the GPU machine must have one" >&2
  fi
  sed -n '/^pip_cuda_libs()/,/^}/p;/^setup_env()/,/^}/p' "$0" >"$out/env.sh"
  cat >"$out/run.sh" <<'EOF'
#!/usr/bin/env bash
# Runs the native layer's CUDA checks from this bundle; needs a JDK 17 and a GPU (see cuda-check.sh).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/env.sh"
setup_env
java=${JAVA_HOME:+$JAVA_HOME/bin/}java
rm -rf "$here/demo-work" && cp -r "$here/demo" "$here/demo-work"
export TORCHBRIDGE_DEMO_DIR="$here/demo-work"
export TORCHBRIDGE_TORCHSCRIPT_DIR="$here/torchscript"
"$java" -version 2>&1 | head -1
# TORCHBRIDGE_DEBUG=1 shows which native libraries JavaCPP finds and loads.
exec "$java" -Dtorchbridge.repo="$here" -Dtorchbridge.requireCuda=true \
  ${TORCHBRIDGE_DEBUG:+-Dorg.bytedeco.javacpp.logger.debug=true} \
  -cp "$here/classes/native:$here/classes/compat:$here/lib/*" \
  org.junit.platform.console.ConsoleLauncher execute --disable-banner --details=tree --fail-if-no-tests \
  --select-class=io.torchbridge.libtorch.CudaTest \
  --select-method=io.torchbridge.compat.NativeDemoTest#theSameOnCuda \
  --select-method=io.torchbridge.libtorch.ScriptedModuleTest#theSameOutputsOnCuda \
  --select-method=io.torchbridge.compat.ScriptedModuleTest#everyArchiveRunsWithTorchsOutputsOnCuda \
  --select-method=io.torchbridge.compat.ScriptedModuleTest#newWeightsLoadOnCuda
EOF
  chmod +x "$out/run.sh"
  du -sh "$out"
  echo "cuda-check: bundle ready; on the GPU machine run: bash $out/run.sh"
}

if [ "${1:-}" = "--bundle" ]; then
  [ -n "${2:-}" ] || { echo "usage: native/cuda-check.sh --bundle DIR" >&2; exit 2; }
  bundle "$2"
  exit 0
fi

setup_env
exec ./mvnw -B -Pgpu -pl native,compat-tests -am verify -Dtorchbridge.requireCuda=true \
  -Dtest='CudaTest,NativeDemoTest#theSameOnCuda,ScriptedModuleTest#*OnCuda,ExamplesTest#*OnCuda' \
  -Dsurefire.failIfNoSpecifiedTests=false
