#!/usr/bin/env bash
# The read benchmark: real torch 2.14 against TorchBridge on one ~1.25 GiB fp32 state_dict, page
# cache warm, everything in one run. See bench/README.md. Idempotent: the checkpoint is made once
# (cached outside the repository), the CLI jar is built only when missing or stale.
#
# Usage: bench/read-bench.sh [REPEAT]     (REPEAT timed runs per case, default 7; medians reported)
# Environment: TORCHBRIDGE_CACHE (default /var/cache/torchbridge), TORCHBRIDGE_PYTHON (a python3
#   with torch; default the torch 2.14 wrapper that fixtures/torch-matrix.sh installs), JAVA (java).
set -euo pipefail
repeat=${1:-7}
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
log() { echo "read-bench: $*" >&2; }

if [ ! -x "$python" ]; then
  log "no torch 2.14 interpreter at $python; run fixtures/torch-matrix.sh first (it installs it)"
  exit 1
fi
if [ ! -f "$ckpt" ]; then
  log "making $ckpt with torch (once; about 15 s)"
  "$python" bench/torch_read.py make "$ckpt"
fi

work=$(mktemp -d /tmp/read-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
jflags=(--add-modules jdk.incubator.vector -cp "$jar")
quiet() { grep -v -e 'incubat' -e '^1 warning$' >&2 || true; }
# java with the reader jar and the Vector API module; its stderr without the incubator warnings.
jrun() {
  local rc=0
  "$java" "$@" 2> >(quiet) || rc=$?
  sleep 0.3 # let the filtered stderr drain
  return $rc
}

# Warm cache, in a known state. How the file's pages sit in the page cache matters to every mmap
# reader: on this kernel (ext4, large folios) a file read back in one sequential pass is cached in
# 2 MiB folios, which are then mapped with one page-table entry per 2 MiB; a file whose cache was
# partly evicted and refilled piecemeal (by other processes' memory pressure) is mapped 4 KiB at a
# time, and faulting the mapping in takes several times longer, for torch and TorchBridge alike.
# So: drop the file from the cache (dd iflag=nocache count=0), read it back in one pass.
log "reloading the file into the page cache"
dd if="$ckpt" iflag=nocache count=0 status=none
cat "$ckpt" > /dev/null
# CPU seconds used on the whole machine (user, nice, system, irq, softirq, steal) and by this
# script's finished children, to tell how much of the machine other processes took meanwhile.
machine_cpu() { awk -v hz="$(getconf CLK_TCK)" '/^cpu /{printf "%.2f", ($2+$3+$4+$7+$8+$9)/hz}' /proc/stat; }
children_cpu() { tail -1 "$1" | awk '{n=0; for(i=1;i<=2;i++){split($i,a,/[ms]/); n+=a[1]*60+a[2]}; printf "%.2f", n}'; }
t0=$(date +%s.%N) m0=$(machine_cpu)
times > "$work/times0" # the times builtin, in this shell: CPU of its finished children so far

log "timing torch (torch.load twice $repeat times, memcpy)"
"$python" bench/torch_read.py time "$ckpt" "$work/torch.properties" "$repeat"
# glibc serves big blocks with mmap and unmaps them on free (and trims its heap), so most
# torch.load runs above fault in 1.25 GiB of fresh zeroed pages; here glibc is told to keep freed
# memory, the analogue of the JVM's pre-touched heap (information, not a target).
log "timing torch.load(mmap=False) with glibc keeping freed memory"
MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=4294967296 \
  "$python" bench/torch_read.py load "$ckpt" "$work/torch-keepmem.properties" "$repeat"
cat "$work/torch-keepmem.properties" >> "$work/torch.properties"

cat "$ckpt" > /dev/null
log "timing TorchBridge in one JVM (-Xms6g -Xmx6g -XX:+AlwaysPreTouch)"
jrun -Xms6g -Xmx6g -XX:+AlwaysPreTouch "${jflags[@]}" bench/ReadBench.java \
  run "$ckpt" "$work/java.properties" "$repeat"

log "timing TorchBridge open + touch in a -Xmx64m JVM"
if ! jrun -Xmx64m "${jflags[@]}" bench/ReadBench.java touch "$ckpt" "$work/java64.properties" "$repeat"; then
  log "the -Xmx64m run failed"
  : > "$work/java64.properties"
fi
times > "$work/times1"
others=$(awk -v t0="$t0" -v t1="$(date +%s.%N)" -v m0="$m0" -v m="$(machine_cpu)" \
  -v o0="$(children_cpu "$work/times0")" -v o="$(children_cpu "$work/times1")" -v n="$(nproc)" \
  'BEGIN{x=((m-m0)-(o-o0))/((t1-t0)*n); printf "%.0f", (x<0?0:x)*100}')
# Keep the raw results (every run's time: *.all_s) next to the checkpoint.
mkdir -p "$dir/last-run" && cp "$work"/*.properties "$dir/last-run/"
echo
jrun -Dbench.others="$others" "${jflags[@]}" bench/ReadBench.java report "$ckpt" \
  "$work/torch.properties" "$work/java.properties" "$work/java64.properties"
log "every run's time: $dir/last-run/*.properties (keys *.all_s)"
