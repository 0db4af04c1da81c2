#!/usr/bin/env bash
# The scaling benchmark: real torch 2.14 against TorchBridge on checkpoints of growing tensor count
# (1k-200k, and an Adam training checkpoint) and size (1, 4, 12 GiB), warm and cold, plus writes,
# the CLI's cold start and convert against cp. Each point side by side, interleaved, in one run.
# See bench/README.md ("Scaling"). Idempotent: the checkpoints are made once by torch 2.14 and kept
# in $TORCHBRIDGE_CACHE/bench/scale; the CLI jar (and its class-data archive) are built only when
# missing or stale.
#
# Usage: bench/scale-bench.sh [--quick] [--only PHASES] [--repeat N]
#   --quick          no 12 GiB point (and no 200k CLI point), 5 timed runs per point instead of 7:
#                    about 10 minutes once the files exist (the full run: about 20-25)
#   --only PHASES    a comma list of open,cli,touch,write,convert (default: all)
#   --repeat N       timed runs per point (big points use N-2, at least 3)
# Environment: as read-bench.sh (TORCHBRIDGE_CACHE, TORCHBRIDGE_PYTHON, JAVA is not used: `java`).
# Disk: the cached checkpoints take ~5.5 GiB (--quick) or ~17.5 GiB; making the 12 GiB one needs
# 12 GiB more for a while (a random scratch file, deleted after); write/convert outputs (up to 4 GiB)
# are deleted after each run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
log() { echo "scale-bench: $*" >&2; }
quick=0
for a in "$@"; do [ "$a" = --quick ] && quick=1; done

if [ ! -x "$python" ]; then
  log "no torch 2.14 interpreter at $python; run fixtures/torch-matrix.sh first (it installs it)"
  exit 1
fi
sdir="$dir/scale"
mkdir -p "$sdir"
make_ckpt() { # NAME ARGS...: has torch write $sdir/NAME.pt once
  local name=$1; shift
  if [ ! -f "$sdir/$name.pt" ]; then
    log "making $sdir/$name.pt with torch (once)"
    "$python" bench/torch_scale.py make "$@" "$sdir/$name.pt"
  fi
}
make_ckpt count_1k count 1000
make_ckpt count_10k count 10000
make_ckpt count_100k count 100000
make_ckpt count_200k count 200000
make_ckpt adam_10k adam 10000
sizes="1 4"
[ "$quick" = 1 ] || sizes="1 4 12"
for g in $sizes; do
  [ -f "$sdir/size_${g}g.pt" ] || make_ckpt "size_${g}g" size "$g" "$sdir/scratch.bin"
done
rm -f "$sdir/scratch.bin"
rm -rf "$sdir/out"

log "timing (see $sdir/out/*.stderr if a side fails)"
python3 bench/scale_bench.py --dir "$sdir" --python "$python" --jar "$jar" --launcher "$here/torchbridge" "$@"
