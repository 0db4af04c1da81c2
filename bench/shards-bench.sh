#!/usr/bin/env bash
# The multi-file benchmark (issue 11, "Speed at scale"): a Hugging Face sharded checkpoint
# (safetensors shards + model.safetensors.index.json) and a DCP directory written by 2 ranks, both
# of about --gib GiB, read by TorchBridge and by torch 2.14 side by side, with cat/dd/cp of the same
# files in the same run. Prints a table with each target PASS or FAIL. See bench/README.md
# ("Checkpoints in several files").
#
# Usage: bench/shards-bench.sh [--gib N] [--repeat N] [--only PHASES] [--keep-dcp]
#   --gib N         size of each checkpoint in GiB (default 20; 2 for a smoke run). The tensor count
#                   (2,403) is the same at every size; the tensors grow.
#   --repeat N      timed runs per point (default 5; the 20 GiB reads use N-2, at least 3)
#   --only PHASES   a comma list of open,read,torch,convert,dcp (default: all)
#   --keep-dcp      keep the DCP directory after the run even when the disk would then be too full
#                   for the next run's convert output (default: keep it only if it fits)
# Idempotent: the checkpoints are made once by torch 2.14 and kept in
# $TORCHBRIDGE_CACHE/bench/shards/{hf,dcp}_<N>g; the CLI jar is built only when missing or stale.
# Disk: making the shards needs 2x N GiB for a while (a pattern scratch file, deleted after); the
# run needs N (shards) + N (DCP) + N (the cp/convert output, deleted after each timed run) GiB:
# 60 GiB at 20 GiB. When less is free, the DCP directory is made after the convert phase and
# deleted at the end (so a 20 GiB run needs about 41 GiB free).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
log() { echo "shards-bench: $*" >&2; }
gib=20
args=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --gib) gib=$2; shift 2 ;;
    --repeat | --only) shift 2 ;;
    --keep-dcp) shift ;;
    *) log "unknown option $1"; exit 2 ;;
  esac
done
if [ ! -x "$python" ]; then
  log "no torch 2.14 interpreter at $python; run fixtures/torch-matrix.sh first (it installs it)"
  exit 1
fi
sdir="$dir/shards"
mkdir -p "$sdir"
free_gib() { df -BG --output=avail "$sdir" | tail -1 | tr -dc 0-9; }
make_hf() { # GIB: the sharded checkpoint of GIB GiB, once
  local g=$1 d="$sdir/hf_$1g"
  [ -f "$d/model.safetensors.index.json" ] && return 0
  local need=$((2 * g + 2))
  if [ "$(free_gib)" -lt "$need" ]; then
    log "making $d needs about $need GiB free on $sdir (scratch + shards); $(free_gib) GiB free"
    exit 1
  fi
  log "making $d with huggingface_hub's save_torch_state_dict (once)"
  nice -n 10 "$python" bench/torch_shards.py make-hf "$g" $((g * 250000000)) "$sdir/scratch.bin" "$d"
  rm -f "$sdir/scratch.bin"
}
make_hf "$gib"
# A 2 GiB pair beside a bigger run, so the open times show (in)dependence on the data size.
if [ "$gib" != 2 ]; then
  make_hf 2
  if [ ! -f "$sdir/dcp_2g/.metadata" ]; then
    log "making $sdir/dcp_2g with torch.distributed.checkpoint, 2 ranks (once)"
    nice -n 10 "$python" bench/torch_shards.py make-dcp "$sdir/hf_2g" "$sdir/dcp_2g" > /dev/null
  fi
fi
rm -f "$sdir/scratch.bin"

# The Java harness, compiled once per change of its source or the jar (javac, not the source
# launcher: compiling in a -Xmx64m JVM would measure javac's heap, not the reader's).
classes="$sdir/classes"
if [ ! -f "$classes/ShardsBench.class" ] || [ bench/ShardsBench.java -nt "$classes/ShardsBench.class" ] \
    || [ "$jar" -nt "$classes/ShardsBench.class" ]; then
  rm -rf "$classes" && mkdir -p "$classes"
  javac -nowarn --add-modules jdk.incubator.vector -d "$classes" -cp "$jar" bench/ShardsBench.java 2>&1 \
    | grep -v 'incubat' >&2 || true
  [ -f "$classes/ShardsBench.class" ] || { log "javac failed"; exit 1; }
fi

log "timing (servers' stderr in $sdir/out/)"
python3 bench/shards_bench.py --dir "$sdir" --gib "$gib" --python "$python" --jar "$jar" \
  --classes "$classes" --launcher "$here/torchbridge" "${args[@]}"
