#!/usr/bin/env bash
# The load benchmark (issue 13, item 3): a state_dict of a stack of Linear(4096, 4096) layers,
# float32, 1.25 GiB and 5 GiB, loaded into the matching module, torch 2.14 and TorchBridge's
# libtorch side by side in one run: Java copying (the default) and zero-copy (copy-on-write views
# of the file), torch with mmap=True, mmap=False and assign=True. Each run is a fresh process (model built untimed, then one
# timed load), cases interleaved; the table gives medians. See bench/README.md ("Load into a module").
#
# Usage: bench/load-bench.sh [--repeat N] [SIZE_GIB...]     (default: 3 runs, sizes 1.25 5)
# The checkpoints are made once by torch 2.14 into $TORCHBRIDGE_CACHE/bench/load/ and kept.
# Memory: the 5 GiB point needs about 16 GiB free (torch.load(mmap=False) holds the model and a
# full copy); disk: 6.3 GiB for both files.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
log() { echo "load-bench: $*" >&2; }
repeat=3
sizes=()
while [ $# -gt 0 ]; do
  case $1 in
    --repeat) repeat=$2; shift 2 ;;
    *) sizes+=("$1"); shift ;;
  esac
done
[ ${#sizes[@]} -gt 0 ] || sizes=(1.25 5)
if [ ! -x "$python" ] && ! command -v "$python" >/dev/null 2>&1; then
  log "no torch 2.14 interpreter at $python; run fixtures/torch-matrix.sh first"; exit 1
fi
# The CLI's jar is pure Java now; the demo's jar carries native/ and libtorch.
TORCHBRIDGE_BUILD_ONLY=1 ./torchbridge demo
jar="$here/demo/target/torchbridge-demo.jar"
ldir="$dir/load"
mkdir -p "$ldir"
out="$ldir/last-run.txt"
: >"$out"
# -Xmx64m: the heap must not grow with the file. JavaCPP caps native memory by default at a
# multiple of -Xmx (maxPhysicalBytes counts the whole RSS), which a 64 MiB heap beside GiBs of
# libtorch tensors trips at once; 0 lifts the caps (a libtorch program with a small heap needs that).
jflags=(-Xmx64m -Dorg.bytedeco.javacpp.maxPhysicalBytes=0 -Dorg.bytedeco.javacpp.maxBytes=0)
# LoadBench is compiled once, not run as a source file: the source launcher compiles it inside
# the timed JVM, and the JIT's work on javac itself would still run during the load.
classes="$ldir/classes"
rm -rf "$classes" && mkdir -p "$classes"
javac -cp "$jar" -d "$classes" bench/LoadBench.java
cases_torch=(mmap mmap-warm nommap assign assign+touch)
cases_java=(copy copy-warm zerocopy zerocopy-warm zerocopy+touch)
for size in "${sizes[@]}"; do
  f="$ldir/linear_${size}g.pt"
  layers=$(python3 -c "print(round($size * 2**30 / (4096 * 4096 * 4)))")
  if [ ! -f "$f" ] || [ ! -f "$f.warmup" ]; then
    log "making $f with torch ($layers layers, once)"
    nice -n 10 "$python" bench/torch_load.py make "$size" "$f.tmp" >&2
    mv "$f.tmp" "$f"
  fi
  log "$f: reading it once into the page cache"
  cat "$f" >/dev/null
  for r in $(seq "$repeat"); do
    for c in "${cases_torch[@]}"; do
      log "size $size run $r: torch $c"
      echo "$size $(stat -c %s "$f") $("$python" bench/torch_load.py run "$c" "$f" "$layers" | tail -1)" >>"$out"
    done
    for c in "${cases_java[@]}"; do
      log "size $size run $r: java $c"
      echo "$size $(stat -c %s "$f") $("$java" "${jflags[@]}" -cp "$jar:$classes" LoadBench "$c" "$f" "$layers" | tail -1)" >>"$out"
    done
  done
done
python3 - "$out" <<'PY'
import statistics, sys, os
rows = {}
for line in open(sys.argv[1]):
    size, fsize, case, t, before, peak, after, heap = line.split()
    rows.setdefault((size, int(fsize)), {}).setdefault(case, []).append(
        (float(t), int(peak) - int(before), int(after) - int(before), int(heap)))
gib = 2**30
print(f"load benchmark: torch 2.14 vs TorchBridge (libtorch 2.10), {os.cpu_count()} cores;"
      " medians of runs, each a fresh process, page cache warm")
print()
print("| file | case | load s | peak RSS growth | x file | RSS after | peak heap |")
print("|---|---|---|---|---|---|---|")
verdicts = []
for (size, fsize), cases in rows.items():
    med = {}
    for case, rs in cases.items():
        t = statistics.median(r[0] for r in rs)
        g = statistics.median(r[1] for r in rs)
        a = statistics.median(r[2] for r in rs)
        h = max(r[3] for r in rs)
        med[case] = (t, g, a, h)
        print(f"| {size} GiB | {case} | {t:.2f} | {g/gib:.2f} GiB | {g/fsize:.2f} | {a/gib:+.2f} GiB |"
              f" {h/2**20:.0f} MiB |" if h else f"| {size} GiB | {case} | {t:.2f} | {g/gib:.2f} GiB | {g/fsize:.2f} |"
              f" {a/gib:+.2f} GiB | |")
    # The target (issue 13): a load into the Java module faster than Python's mmap path, with the
    # CPU path zero-copy where the module allows it (zeroCopy); the default copy is shown beside it.
    for suffix in ("", "-warm"):
        jz, tm = med.get("java/zerocopy" + suffix), med.get("torch/mmap" + suffix)
        if jz and tm:
            verdicts.append((f"{size} GiB: java/zerocopy{suffix} faster than torch/mmap{suffix} ({jz[0]:.2f} s vs"
                             f" {tm[0]:.2f} s)", jz[0] < tm[0]))
    for suffix in ("", "-warm"):
        jc, tm = med.get("java/copy" + suffix), med.get("torch/mmap" + suffix)
        if jc and tm:
            verdicts.append((f"{size} GiB: java/copy{suffix} faster than torch/mmap{suffix} ({jc[0]:.2f} s vs"
                             f" {tm[0]:.2f} s; information: the default, copying loader)", jc[0] < tm[0]))
    for case in ("java/copy", "java/zerocopy+touch"):
        j = med.get(case)
        if j:
            verdicts.append((f"{size} GiB: {case} peak RSS growth <= file + 10% ({j[1]/fsize:.2f} x file)",
                             j[1] <= 1.1 * fsize))
    jz, ta = med.get("java/zerocopy"), med.get("torch/assign")
    if jz and ta:
        verdicts.append((f"{size} GiB: java/zerocopy faster than torch/assign, Python's own zero-copy load"
                         f" ({jz[0]:.3f} s vs {ta[0]:.3f} s; information)", jz[0] < ta[0]))
heaps = {size: max(v[3] for c, rs in cases.items() if c.startswith("java/") for v in rs)
         for (size, _), cases in rows.items()}
if heaps:
    verdicts.append(("heap independent of file size (-Xmx64m; peak heap " +
                     ", ".join(f"{s} GiB: {h/2**20:.0f} MiB" for s, h in heaps.items()) + ")",
                     max(heaps.values()) <= 64 * 2**20))
print()
for text, ok in verdicts:
    print(f"- {'PASS' if ok else 'FAIL'}: {text}")
PY
