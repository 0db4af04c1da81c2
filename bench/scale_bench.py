"""The driver of the scaling benchmark (bench/scale-bench.sh runs it; plain python3, no torch).

  scale_bench.py --dir DIR --python PY --jar JAR --launcher TORCHBRIDGE [--quick] [--only PHASES]
                 [--repeat N] [--java-opts "..."]

It starts two timing servers, torch (bench/torch_scale.py serve, in the torch 2.14 interpreter) and
TorchBridge (bench/ScaleBench.java serve), and sends them the same commands in turn: for each point,
untimed warm-ups on both sides, then timed runs interleaved (torch, TorchBridge, torch, ...), so a
slow stretch of the machine hits both sides alike. Processes (the CLI, python -c, cp) are run and
timed from here, also interleaved. It prints the table of bench/README.md ("Scaling") and keeps
every run's time in DIR/last-run.json.

Phases (--only takes a comma list): open (open + list vs tensor count, warm and cold), cli (a new
process: ./torchbridge inspect vs python -c 'torch.load'), touch (read every byte vs file size, warm
and cold), write (torch.save vs CheckpointWriter.save, small and large tensors), convert (4 GiB:
./torchbridge convert vs cp + fsync).

"Cold" evicts only the benchmark's own file from the page cache before each run: fdatasync, then
posix_fadvise(POSIX_FADV_DONTNEED) on the file (never drop_caches, which would hit the whole machine).
"""
import argparse
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

MIB, GIB = 1 << 20, 1 << 30

# The checkpoints, made once by torch_scale.py (scale-bench.sh makes the missing ones).
COUNTS = [("count_1k", 1000), ("count_10k", 10_000), ("count_100k", 100_000), ("count_200k", 200_000)]
ADAM = ("adam_10k", 10_000)
SIZES = [("size_1g", 1), ("size_4g", 4), ("size_12g", 12)]

# The targets (issue 9).
OPEN_WARM_US, OPEN_COLD_US, CONVERT_VS_CP = 2.0, 10.0, 1.1


class Server:
    """A timing server (torch_scale.py or ScaleBench.java): one command line in, one answer line out."""

    def __init__(self, name, argv, log):
        self.name = name
        self.log = open(log, "w")
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                  text=True, bufsize=1)

    def __call__(self, *cmd):
        self.p.stdin.write(" ".join(str(c) for c in cmd) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline().strip()
        if not line.startswith("ok"):
            self.log.flush()
            sys.exit(f"scale-bench: {self.name} failed on '{' '.join(map(str, cmd))}': "
                     f"{line or 'no answer (crashed?)'}; its stderr: {self.log.name}")
        return line.split()[1:]

    def close(self):
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.flush()
        except BrokenPipeError:
            pass
        self.p.wait(timeout=60)
        self.log.close()


def evict(path):
    """Drops PATH (only it) from the page cache: its dirty pages written first, then DONTNEED."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def load_into_cache(path):
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(16 * MIB)
        while f.readinto(buf):
            pass


def resident(path):
    """The share of PATH in the page cache (fincore), or None when fincore is missing."""
    if not shutil.which("fincore"):
        return None
    out = subprocess.run(["fincore", "--bytes", "--noheadings", "--raw", "--output", "RES", path],
                         capture_output=True, text=True).stdout.split()
    size = os.path.getsize(path)
    return int(out[0]) / size if out and size else None


def stats(v):
    return {"median": statistics.median(v), "min": min(v), "all": v}


def slope(xs, ys):
    """Least-squares slope of log(y) against log(x): the growth exponent (1 = linear)."""
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    den = sum((a - mx) ** 2 for a in lx)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / den if den else float("nan")


def ms(s):
    return f"{s * 1e3:,.1f} ms" if s < 10 else f"{s:,.2f} s"


class Bench:
    def __init__(self, a):
        self.a = a
        self.dir = a.dir
        self.out = os.path.join(a.dir, "out")
        os.makedirs(self.out, exist_ok=True)
        self.res = {"points": {}}
        self.torch = self.java = None

    def start(self):
        here = os.path.dirname(os.path.abspath(__file__))
        self.torch = Server("torch", [self.a.python, os.path.join(here, "torch_scale.py"), "serve"],
                            os.path.join(self.out, "torch.stderr"))
        self.java = Server("TorchBridge", ["java", *self.a.java_opts.split(), "--add-modules", "jdk.incubator.vector",
                                           "-cp", self.a.jar, os.path.join(here, "ScaleBench.java"), "serve"],
                           os.path.join(self.out, "java.stderr"))
        self.res["torch"] = " ".join(self.torch("version"))
        self.res["java"] = " ".join(self.java("version"))

    def stop(self):
        for s in (self.torch, self.java):
            if s:
                s.close()

    def record(self, key, **kv):
        self.res["points"][key] = kv
        return kv

    def pair(self, key, torch_cmd, java_cmd, repeat, warm_torch=1, warm_java=1, before=None, after=None, **extra):
        """Warm-ups, then timed runs interleaved: torch, TorchBridge, torch, ... each side's times."""
        for _ in range(warm_torch):
            self.torch(*torch_cmd)
        for _ in range(warm_java):
            self.java(*java_cmd)
        t, j, res_before = [], [], []
        answers = {}
        for _ in range(repeat):
            for side, server, cmd, times in (("torch", self.torch, torch_cmd, t), ("ours", self.java, java_cmd, j)):
                if before:
                    r = before()
                    if r is not None:
                        res_before.append((side, r))
                ans = server(*cmd)
                times.append(float(ans[0]))
                answers[side] = ans[1:]
                if after:
                    after()
        p = self.record(key, torch=stats(t), ours=stats(j), answers=answers, **extra)
        if res_before:
            p["resident_before_max"] = max(r for _, r in res_before)
            p["resident_before"] = res_before
        print(f"scale-bench: {key}: torch {ms(p['torch']['median'])}, TorchBridge {ms(p['ours']['median'])}",
              file=sys.stderr)
        return p

    def procs(self, key, cmds, repeat, before=None, after=None, env=None):
        """Processes timed from here, interleaved; cmds: {name: argv}; returns {name: stats}."""
        times = {n: [] for n in cmds}
        for _ in range(repeat):
            for n, argv in cmds.items():
                if before:
                    before()
                t0 = time.perf_counter()
                r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
                s = time.perf_counter() - t0
                if r.returncode:
                    sys.exit(f"scale-bench: {' '.join(argv)} failed: {r.stderr.decode()[-2000:]}")
                times[n].append(s)
                if after:
                    after()
        p = self.record(key, **{n: stats(v) for n, v in times.items()})
        print(f"scale-bench: {key}: " + ", ".join(f"{n} {ms(p[n]['median'])}" for n in cmds), file=sys.stderr)
        return p

    def path(self, name):
        return os.path.join(self.dir, name + ".pt")

    # ---------------------------------------------------------------- phases

    def phase_open(self):
        r = self.a.repeat
        for name, n in COUNTS + [ADAM]:
            f = self.path(name)
            load_into_cache(f)
            # JIT warm-up for the JVM: more runs where a run is short; fewer timed runs where long.
            warm = max(2, min(30, 30_000 // n))
            rr = r if n < 100_000 else max(3, r - 2)
            self.pair(f"open/{name}/warm", ("open", f), ("open", f), rr, warm_torch=1, warm_java=warm, n=n)
            self.pair(f"open/{name}/cold", ("open", f), ("open", f), rr, warm_torch=0, warm_java=0,
                      before=lambda f=f: (evict(f), resident(f))[1], n=n)
            load_into_cache(f)

    def phase_cli(self):
        r = self.a.repeat
        names = [COUNTS[0], COUNTS[2]] + ([] if self.a.quick else [COUNTS[3]])
        load_py = "import sys, torch; torch.load(sys.argv[1], mmap=True, weights_only=True)"
        for name, n in names:
            f = self.path(name)
            load_into_cache(f)
            cmds = {"python": [self.a.python, "-c", load_py, f], "ours": [self.a.launcher, "inspect", f]}
            if name == COUNTS[0][0]:
                # For information: the same without the class-data archive, and python's import alone.
                cmds["ours_no_cds"] = ["env", "TORCHBRIDGE_CDS=0", self.a.launcher, "inspect", f]
                cmds["python_import"] = [self.a.python, "-c", "import torch"]
            self.procs(f"cli/{name}", cmds, r)

    def phase_touch(self):
        r = max(3, self.a.repeat - 2)
        sizes = SIZES[:2] if self.a.quick else SIZES
        for name, gib in sizes:
            f = self.path(name)
            load_into_cache(f)
            res = resident(f)
            self.pair(f"touch/{name}/warm", ("touch", f), ("touch", f), r, warm_torch=1, warm_java=2,
                      gib=gib, resident_at_start=res)
            self.pair(f"touch/{name}/cold", ("touch", f), ("touch", f), r, warm_torch=0, warm_java=0,
                      before=lambda f=f: (evict(f), resident(f))[1], gib=gib)
            if gib > 4:
                evict(f)  # 12 GiB: give the page cache back to the machine

    def phase_write(self):
        r = self.a.repeat
        out_t, out_j = os.path.join(self.out, "torch.pt"), os.path.join(self.out, "ours.pt")

        def clean():
            # Outputs deleted after each run, then the rest of their writeback finished (untimed),
            # so no run is throttled by the last one's dirty pages.
            for o in (out_t, out_j):
                if os.path.exists(o):
                    os.unlink(o)
            os.sync()

        for n in (1000, 100_000):
            self.torch("small", n)
            self.java("small", n)
            warm = max(1, min(20, 20_000 // n))
            self.pair(f"write/small_{n // 1000}k", ("save", out_t), ("save", out_j), r, warm_torch=1,
                      warm_java=warm, after=clean, n=n)
        for name, gib in SIZES[:2]:
            f = self.path(name)
            self.torch("load", f)
            self.java("load", f)
            self.pair(f"write/{name}", ("save", out_t), ("save", out_j), max(3, r - 2), warm_torch=1,
                      warm_java=1, after=clean, gib=gib)
        self.torch("drop")
        self.java("drop")

    def phase_convert(self):
        r = max(3, self.a.repeat - 2)
        f = self.path("size_4g")
        o = os.path.join(self.out, "convert.pt")
        load_into_cache(f)

        def clean():
            if os.path.exists(o):
                os.unlink(o)
            os.sync()

        # cp + fsync: coreutils cp (copy_file_range where it can), then sync FILE, which fsyncs it.
        cp = ["sh", "-c", 'cp -- "$1" "$2" && sync -- "$2"', "cp", f, o]
        self.procs("convert/size_4g", {"cp_fsync": cp, "ours": [self.a.launcher, "convert", f, o]}, r,
                   before=clean, after=clean)

    # ---------------------------------------------------------------- report

    def report(self):
        P = self.res["points"]
        lines = []
        w = lines.append
        w(f"TorchBridge scaling benchmark ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
        w(f"  {self.res.get('torch', '')}; {self.res.get('java', '')}; {os.cpu_count()} cores; "
          f"other processes used {self.res.get('others_pct', '?')}% of the CPUs while it ran")
        w(f"  each point: torch and TorchBridge interleaved in one run (torch, ours, torch, ...) after untimed "
          f"warm-ups; median and min of the timed runs; ratio = ours / torch (median; < 1: ours faster)")
        if self.res.get("others_pct", 0) >= 10:
            w("  WARNING: other processes took 10% or more of the CPUs: the numbers are noisy")
        targets = []

        opens = [k for k in P if k.startswith("open/")]
        if opens:
            w("")
            w("open + list: torch.load(f, mmap=True, weights_only=True) + walk vs Checkpoint.open + tensors() + info() + close")
            w(f"  {'file':<12}{'records':>9}  {'cache':<5}{'torch med':>12}{'min':>11}{'ours med':>12}{'min':>11}"
              f"{'ratio':>8}{'ours/record':>14}")
            for k in opens:
                p = P[k]
                _, name, cache = k.split("/")
                records = int(p["answers"]["ours"][2])
                us = p["ours"]["median"] / records * 1e6
                p["us_per_record"] = us
                w(f"  {name:<12}{records:>9}  {cache:<5}{ms(p['torch']['median']):>12}{ms(p['torch']['min']):>11}"
                  f"{ms(p['ours']['median']):>12}{ms(p['ours']['min']):>11}"
                  f"{p['ours']['median'] / p['torch']['median']:>7.2f}x{us:>11.2f} us")
            for cache, goal in (("warm", OPEN_WARM_US), ("cold", OPEN_COLD_US)):
                pts = [(n, P[f"open/{name}/{cache}"]) for name, n in COUNTS if f"open/{name}/{cache}" in P]
                if len(pts) >= 2:
                    xs = [n for n, _ in pts]
                    st = slope(xs, [p["torch"]["median"] for _, p in pts])
                    so = slope(xs, [p["ours"]["median"] for _, p in pts])
                    w(f"  growth exponent ({cache}; log-log slope of the median vs tensor count, "
                      f"{xs[0] // 1000}k-{xs[-1] // 1000}k): torch {st:.2f}, ours {so:.2f}")
                # Judged where the per-record cost dominates the fixed one: 100k+ records, and Adam.
                for name, n in COUNTS + [ADAM]:
                    k = f"open/{name}/{cache}"
                    if k in P and (n >= 100_000 or name == ADAM[0]):
                        us = P[k]["us_per_record"]
                        targets.append((f"open <= {goal:g} us/record {cache}, {name}", f"{us:.2f} us/record",
                                        us <= goal))
            res = [P[k].get("resident_before_max") for k in opens if k.endswith("cold")]
            res = [x for x in res if x is not None]
            if res:
                w(f"  cold runs: at most {max(res) * 100:.1f}% of the file was still in the page cache after eviction")

        clis = [k for k in P if k.startswith("cli/")]
        if clis:
            w("")
            w("CLI, cold JVM and cold python, file in the page cache: a new process each run")
            w("  python = python -c 'import torch; torch.load(f, mmap=True, weights_only=True)' (the torch 2.14 interpreter)")
            w("  ours   = ./torchbridge inspect f > /dev/null (the text listing; the launcher as users run it)")
            w(f"  {'file':<12}{'python med':>12}{'min':>11}{'ours med':>12}{'min':>11}{'ratio':>8}")
            for k in clis:
                p = P[k]
                name = k.split("/")[1]
                w(f"  {name:<12}{ms(p['python']['median']):>12}{ms(p['python']['min']):>11}"
                  f"{ms(p['ours']['median']):>12}{ms(p['ours']['min']):>11}"
                  f"{p['ours']['median'] / p['python']['median']:>7.2f}x")
                targets.append((f"CLI inspect faster than python torch.load, {name}",
                                f"{ms(p['ours']['median'])} vs {ms(p['python']['median'])}",
                                p["ours"]["median"] < p["python"]["median"]))
                if "ours_no_cds" in p:
                    w(f"    for information ({name}): ./torchbridge without the class-data archive (TORCHBRIDGE_CDS=0) "
                      f"{ms(p['ours_no_cds']['median'])}; python -c 'import torch' alone {ms(p['python_import']['median'])}")

        touches = [k for k in P if k.startswith("touch/")]
        if touches:
            w("")
            w("read every byte vs file size: torch.load(mmap=True) + int64 sum of each tensor vs open + Vector API sum "
              "of each data() view (all cores); 128 MiB fp32 tensors")
            w(f"  {'file':<12}{'cache':<6}{'torch med':>12}{'min':>11}{'ours med':>12}{'min':>11}{'ratio':>8}"
              f"{'torch GB/s':>12}{'ours GB/s':>11}  checksums")
            for k in touches:
                p = P[k]
                _, name, cache = k.split("/")
                b = p["gib"] * GIB
                same = "equal" if p["answers"]["torch"][1] == p["answers"]["ours"][1] else "DIFFER"
                w(f"  {name:<12}{cache:<6}{ms(p['torch']['median']):>12}{ms(p['torch']['min']):>11}"
                  f"{ms(p['ours']['median']):>12}{ms(p['ours']['min']):>11}"
                  f"{p['ours']['median'] / p['torch']['median']:>7.2f}x"
                  f"{b / p['torch']['median'] / 1e9:>12.2f}{b / p['ours']['median'] / 1e9:>11.2f}  {same}")
            for cache in ("warm", "cold"):
                pts = [(g, P[f"touch/{n}/{cache}"]) for n, g in SIZES if f"touch/{n}/{cache}" in P]
                if len(pts) >= 2:
                    xs = [g for g, _ in pts]
                    w(f"  growth exponent ({cache}; vs size, {xs[0]}-{xs[-1]} GiB): "
                      f"torch {slope(xs, [p['torch']['median'] for _, p in pts]):.2f}, "
                      f"ours {slope(xs, [p['ours']['median'] for _, p in pts]):.2f}")
            res = [P[k].get("resident_before_max") for k in touches if k.endswith("cold")]
            res = [x for x in res if x is not None]
            if res:
                w(f"  cold runs: at most {max(res) * 100:.1f}% of the file was still in the page cache after eviction")
            starts = [P[k].get("resident_at_start") for k in touches if k.endswith("warm")]
            if any(s is not None and s < 0.99 for s in starts):
                w("  WARNING: a warm file was not wholly in the page cache at the start (memory pressure)")

        writes = [k for k in P if k.startswith("write/")]
        if writes:
            w("")
            w("write: torch.save vs CheckpointWriter.save (both without fsync; output deleted and synced after each run, untimed)")
            w(f"  {'case':<14}{'torch med':>12}{'min':>11}{'ours med':>12}{'min':>11}{'ratio':>8}")
            for k in writes:
                p = P[k]
                name = k.split("/")[1]
                label = {"small_1k": "1k x 256 B", "small_100k": "100k x 256 B", "size_1g": "1 GiB (8)",
                         "size_4g": "4 GiB (32)"}.get(name, name)
                ratio = p["ours"]["median"] / p["torch"]["median"]
                w(f"  {label:<14}{ms(p['torch']['median']):>12}{ms(p['torch']['min']):>11}"
                  f"{ms(p['ours']['median']):>12}{ms(p['ours']['min']):>11}{ratio:>7.2f}x")
                targets.append((f"writer <= torch.save, {label}", f"{ratio:.2f}x", ratio <= 1.0))

        if "convert/size_4g" in P:
            p = P["convert/size_4g"]
            w("")
            w("convert 4 GiB: ./torchbridge convert (fsync) vs cp + sync FILE (fsync); source in the page cache")
            ratio = p["ours"]["median"] / p["cp_fsync"]["median"]
            w(f"  cp + fsync {ms(p['cp_fsync']['median'])} (min {ms(p['cp_fsync']['min'])}), "
              f"./torchbridge convert {ms(p['ours']['median'])} (min {ms(p['ours']['min'])}): {ratio:.2f}x")
            targets.append((f"convert <= {CONVERT_VS_CP}x cp + fsync, 4 GiB", f"{ratio:.2f}x", ratio <= CONVERT_VS_CP))

        if targets:
            w("")
            w(f"  {'target (medians)':<58}{'measured':<30}result")
            for t, m, ok in targets:
                w(f"  {t:<58}{m:<30}{'PASS' if ok else 'MISS'}")
        return "\n".join(lines)


def machine_cpu():
    with open("/proc/stat") as f:
        v = f.readline().split()[1:]
    return sum(int(v[i]) for i in (0, 1, 2, 5, 6, 7)) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--python")
    ap.add_argument("--jar")
    ap.add_argument("--launcher")
    ap.add_argument("--quick", action="store_true", help="no 12 GiB point, fewer CLI points")
    ap.add_argument("--only", default="open,cli,touch,write,convert")
    ap.add_argument("--repeat", type=int, default=0, help="timed runs per point (default 7, --quick 5)")
    ap.add_argument("--java-opts", default="-Xms6g -Xmx6g -XX:+AlwaysPreTouch")
    ap.add_argument("--report", metavar="JSON", help="only print the table of an earlier run's last-run.json")
    a = ap.parse_args()
    if a.report:
        b = Bench(a)
        with open(a.report) as f:
            b.res = json.load(f)
        print(b.report())
        return
    a.repeat = a.repeat or (5 if a.quick else 7)
    phases = a.only.split(",")
    b = Bench(a)
    t0, m0 = time.perf_counter(), machine_cpu()
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    s0 = resource.getrusage(resource.RUSAGE_SELF)
    try:
        b.start()
        for ph in ("open", "cli", "touch", "write", "convert"):
            if ph in phases:
                getattr(b, "phase_" + ph)()
    finally:
        b.stop()
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    mine = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
    me = resource.getrusage(resource.RUSAGE_SELF)
    mine += (me.ru_utime + me.ru_stime) - (s0.ru_utime + s0.ru_stime)
    wall = time.perf_counter() - t0
    b.res["others_pct"] = max(0, round(100 * ((machine_cpu() - m0) - mine) / (wall * os.cpu_count())))
    b.res["wall_s"] = wall
    b.res["quick"] = a.quick
    text = b.report()
    with open(os.path.join(a.dir, "last-run.json"), "w") as f:
        json.dump(b.res, f, indent=1)
    with open(os.path.join(a.dir, "last-run.txt"), "w") as f:
        f.write(text + "\n")
    print(text)
    print(f"scale-bench: {wall / 60:.1f} min; every run's time: {a.dir}/last-run.json", file=sys.stderr)


if __name__ == "__main__":
    main()
