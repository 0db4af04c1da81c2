#!/usr/bin/env bash
# The write benchmark: TorchBridge's writer against torch.save (torch 2.14) and against a plain
# sequential write of the same bytes (dd), on the ~1.25 GiB fp32 state_dict of read-bench.sh.
# Writes go to the same file system as the source (the benchmark cache). Prints medians and the
# ratios against the targets (>= 5x faster than torch.save, within 1.5x of dd, heap bounded).
#
# Usage: bench/write-bench.sh [REPEAT]    (default 5)
set -euo pipefail
repeat=${1:-5}
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
src="$ckpt"
if [ ! -f "$src" ]; then
  echo "write-bench: run bench/read-bench.sh once first (it makes $src)" >&2
  exit 1
fi
out=$(mktemp -d "$dir/write-bench.XXXXXX")
trap 'rm -rf "$out"' EXIT
results="$out/results.txt"
cat "$src" > /dev/null

sync
echo "write-bench: torch.save x$repeat" >&2
"$python" bench/torch_write.py "$src" "$out" "$repeat" >> "$results"
echo "write-bench: TorchBridge from Java arrays (-Xmx4g) x$repeat" >&2
"$java" -Xmx4g -cp "$jar" bench/WriteBench.java arrays "$src" "$out" "$repeat" >> "$results"
echo "write-bench: TorchBridge pass-through of the read checkpoint in a -Xmx64m JVM x$repeat" >&2
"$java" -Xmx64m -cp "$jar" bench/WriteBench.java convert "$src" "$out" "$repeat" >> "$results"
echo "write-bench: dd x$repeat" >&2
for i in $(seq "$repeat"); do
  for mode in dd.nofsync dd.fsync; do
    flag=""; [ "$mode" = dd.fsync ] && flag="conv=fsync"
    sync
    t0=$(date +%s.%N)
    dd if="$src" of="$out/dd.pt" bs=4M $flag status=none
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" -v m="$mode" 'BEGIN{printf "%s %.4f\n", m, b - a}' >> "$results"
    rm -f "$out/dd.pt"
  done
done

python3 - "$results" "$(stat -c %s "$src")" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    k, v = line.split()[:2]
    if k == "heap.max":
        heap = int(v); continue
    runs.setdefault(k, []).append(float(v))
size = int(sys.argv[2])
med = {k: statistics.median(v) for k, v in runs.items()}
print(f"write benchmark: {size / 2**30:.2f} GiB state_dict, median of {len(runs['torch.save'])} runs")
print(f"{'case':<34}{'median s':>10}{'GB/s':>8}")
names = [("torch.save", "torch.save (no fsync)"), ("ours.nofsync", "ours, Java arrays, no fsync"),
         ("ours.fsync", "ours, Java arrays, fsync (default)"), ("convert.nofsync", "ours, pass-through -Xmx64m, no fsync"),
         ("convert.fsync", "ours, pass-through -Xmx64m, fsync"), ("dd.nofsync", "dd bs=4M"), ("dd.fsync", "dd bs=4M conv=fsync")]
for k, label in names:
    print(f"{label:<34}{med[k]:>10.3f}{size / med[k] / 1e9:>8.2f}")
r1 = med["torch.save"] / med["ours.nofsync"]
r2 = med["ours.nofsync"] / med["dd.nofsync"]
r3 = med["ours.fsync"] / med["dd.fsync"]
print(f"torch.save / ours (both without fsync): {r1:.1f}x  (target >= 5x: {'PASS' if r1 >= 5 else 'MISS'})")
print(f"ours / dd, no fsync: {r2:.2f}x  (target <= 1.5x: {'PASS' if r2 <= 1.5 else 'MISS'})")
print(f"ours / dd, both fsync: {r3:.2f}x  (target <= 1.5x: {'PASS' if r3 <= 1.5 else 'MISS'})")
print(f"pass-through save ran in a {heap / 2**20:.0f} MiB heap (-Xmx64m): heap bounded")
PY
