# Sourced by the bench scripts: the repository, the benchmark cache, the torch 2.14 interpreter
# that fixtures/torch-matrix.sh installs, the benchmark checkpoint, and a fresh CLI jar (built by
# ./torchbridge's own freshness rule).
# Environment: TORCHBRIDGE_CACHE (default /var/cache/torchbridge), TORCHBRIDGE_PYTHON (a python3
#   with torch; default the torch 2.14 wrapper), JAVA (java).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
cache=${TORCHBRIDGE_CACHE:-/var/cache/torchbridge}
python=${TORCHBRIDGE_PYTHON:-$cache/bin/python-torch-sid}
java=${JAVA:-java}
dir="$cache/bench"
ckpt="$dir/state_dict_1.25g.pt"
jar="$here/cli/target/torchbridge.jar"
mkdir -p "$dir"
# The sid wrapper runs python in a chroot that sees /tmp, the repository, and the folders listed
# in TORCHBRIDGE_BIND, all at their host paths.
export TORCHBRIDGE_BIND="${TORCHBRIDGE_BIND:+$TORCHBRIDGE_BIND }$dir"
TORCHBRIDGE_BUILD_ONLY=1 ./torchbridge
