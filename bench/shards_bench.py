"""The driver of the multi-file benchmark (bench/shards-bench.sh runs it; plain python3, no torch).

  shards_bench.py --dir DIR --gib N --python PY --jar JAR --classes DIR --launcher TORCHBRIDGE
                  [--repeat N] [--only PHASES] [--keep-dcp] [--report JSON]

Two timing servers get the same checkpoints in turn: torch (bench/torch_shards.py serve, in the
torch 2.14 interpreter) and TorchBridge (bench/ShardsBench.java, in a -Xmx64m JVM). Processes
(cat, dd, cp, ./torchbridge convert) are run and timed from here. Each point: untimed warm-ups,
then timed runs interleaved (one of each side in turn), so a slow stretch hits all alike.

Phases, in this order (--only takes a comma list):
  open     open the logical checkpoint (index json) at N GiB and at every other size already in
           DIR: TorchBridge Checkpoint.open + tensors() + info() + close vs safetensors.safe_open of
           every shard + every tensor's shape and dtype
  read     every byte of the shards, page cache warm: cat and dd of the files to /dev/null (1
           process), cat with one process per core, TorchBridge 1 thread and all cores
  torch    torch: safetensors.torch.load_file of each shard + every byte read once (the same sum)
  convert  ./torchbridge convert INDEX OUT.safetensors (JVM -Xmx64m) vs cp of the shards + sync;
           each output deleted (and the deletion synced) right after its run, untimed
  dcp      the DCP directory (made here by torch_shards.py make-dcp when missing): open (also at
           other sizes present) and read as above, against cat of its .distcp files
Every TorchBridge read returns the wrapping sum of the tensors' little-endian 8-byte words; torch's
load returns the same sum; the report checks they agree (HF, DCP, torch, the convert output).
"""
import argparse
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time

GIB = 1 << 30
OPEN_MS, PAR_GAIN, CONVERT_VS_CP, OPEN_SIZE_RATIO = 100.0, 1.5, 0.8, 1.5


class Server:
    def __init__(self, name, argv, log):
        self.name = name
        self.log = open(log, "w")
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                  text=True, bufsize=1)
        self.anon_peak_kb = 0

    def __call__(self, *cmd):
        self.p.stdin.write(" ".join(str(c) for c in cmd) + "\n")
        self.p.stdin.flush()
        with Sampler(self.p.pid) as s:
            line = self.p.stdout.readline().strip()
        self.anon_peak_kb = max(self.anon_peak_kb, s.peak)
        if not line.startswith("ok"):
            self.log.flush()
            sys.exit(f"shards-bench: {self.name} failed on '{' '.join(map(str, cmd))}': "
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


class Sampler:
    """The peak RssAnon (kB) of a process and its descendants together (the torch wrapper runs
    python in a chroot, a child), sampled every 20 ms while the block runs."""

    def __init__(self, pid):
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def tree(self):
        children = {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open(f"/proc/{d}/stat") as f:
                        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                    children.setdefault(ppid, []).append(int(d))
                except (OSError, ValueError, IndexError):
                    pass
        out, todo = [], [self.pid]
        while todo:
            p = todo.pop()
            out.append(p)
            todo.extend(children.get(p, []))
        return out

    def sample(self, pids):
        total = 0
        for p in pids:
            try:
                with open(f"/proc/{p}/status") as f:
                    m = re.search(r"RssAnon:\s+(\d+)", f.read())
                total += int(m.group(1)) if m else 0
            except OSError:
                pass
        self.peak = max(self.peak, total)

    def run(self):
        pids, n = [self.pid], 0
        while not self.stop.wait(0.02):
            if n % 25 == 0:
                pids = self.tree()  # the tree now and then (new children), the sizes every time
            n += 1
            self.sample(pids)

    def __enter__(self):
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()
        return self

    def __exit__(self, *e):
        self.stop.set()
        self.t.join()


def load_into_cache(files):
    for path in files:
        with open(path, "rb", buffering=0) as f:
            buf = bytearray(16 << 20)
            while f.readinto(buf):
                pass


def resident(files):
    """The share of FILES' bytes in the page cache (fincore), or None."""
    if not shutil.which("fincore"):
        return None
    out = subprocess.run(["fincore", "--bytes", "--noheadings", "--raw", "--output", "RES"] + files,
                         capture_output=True, text=True).stdout.split()
    size = sum(os.path.getsize(f) for f in files)
    return sum(int(x) for x in out) / size if out and size else None


def stats(v):
    return {"median": statistics.median(v), "min": min(v), "first": v[0], "all": v}


def ms(s):
    return f"{s * 1e3:,.1f} ms" if s < 10 else f"{s:,.2f} s"


def free_bytes(d):
    st = os.statvfs(d)
    return st.f_bavail * st.f_frsize


def machine_cpu():
    with open("/proc/stat") as f:
        v = f.readline().split()[1:]
    return sum(int(v[i]) for i in (0, 1, 2, 5, 6, 7)) / os.sysconf("SC_CLK_TCK")


def run_timed(argv, env=None, sample=True):
    """(seconds, max RSS kB, peak RssAnon kB) of one process (wait4's rusage)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    with Sampler(p.pid) as s:
        err = p.stderr.read()
        _, status, ru = os.wait4(p.pid, 0)
    sec = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode:
        sys.exit(f"shards-bench: {' '.join(argv)} failed ({p.returncode}): {err.decode()[-2000:]}")
    return sec, ru.ru_maxrss, s.peak


class Bench:
    def __init__(self, a):
        self.a = a
        self.out = os.path.join(a.dir, "out")
        os.makedirs(self.out, exist_ok=True)
        self.res = {"points": {}, "gib": a.gib, "notes": []}
        self.torch = self.java = None
        self.ncpu = os.cpu_count()

    def hf(self, gib=None):
        return os.path.join(self.a.dir, f"hf_{gib or self.a.gib}g")

    def dcp(self, gib=None):
        return os.path.join(self.a.dir, f"dcp_{gib or self.a.gib}g")

    @staticmethod
    def index(d):
        return os.path.join(d, "model.safetensors.index.json")

    @staticmethod
    def shards(d):
        with open(Bench.index(d)) as f:
            return [os.path.join(d, fn) for fn in sorted(set(json.load(f)["weight_map"].values()))]

    @staticmethod
    def dcp_files(d):
        return sorted(glob.glob(os.path.join(d, "*.distcp"))) + [os.path.join(d, ".metadata")]

    def sizes(self, kind):
        out = []
        for p in glob.glob(os.path.join(self.a.dir, f"{kind}_*g")):
            m = re.fullmatch(rf"{kind}_(\d+)g", os.path.basename(p))
            ok = os.path.exists(self.index(p)) if kind == "hf" else os.path.exists(os.path.join(p, ".metadata"))
            if m and ok:
                out.append(int(m.group(1)))
        return sorted(out)

    def start(self):
        here = os.path.dirname(os.path.abspath(__file__))
        self.torch = Server("torch", [self.a.python, os.path.join(here, "torch_shards.py"), "serve"],
                            os.path.join(self.out, "torch.stderr"))
        self.java = Server("TorchBridge", ["java", "-Xmx64m", "--add-modules", "jdk.incubator.vector",
                                           "-cp", f"{self.a.jar}:{self.a.classes}", "ShardsBench", "serve"],
                           os.path.join(self.out, "java.stderr"))
        self.res["torch"] = " ".join(self.torch("version"))
        self.res["java"] = " ".join(self.java("version"))

    def stop(self):
        for s in (self.torch, self.java):
            if s:
                s.close()

    def record(self, key, **v):
        self.res["points"][key] = v
        return v

    def log(self, msg):
        print(f"shards-bench: {msg}", file=sys.stderr, flush=True)

    # ---------------------------------------------------------------- phases

    def open_points(self, kind, path_of):
        r = self.a.repeat
        for g in self.sizes(kind):
            p = path_of(g)
            key = f"open/{kind}_{g}g"
            first = float(self.java("open", p)[0]) if key == f"open/{kind}_{self.sizes(kind)[0]}g" else None
            for _ in range(20):
                self.java("open", p)
            ours, theirs, ans = [], [], None
            for _ in range(max(r, 7)):
                ans = self.java("open", p)
                ours.append(float(ans[0]))
                if kind == "hf":
                    theirs.append(float(self.torch("open", os.path.dirname(p))[0]))
            pt = self.record(key, ours=stats(ours), tensors=int(ans[1]), bytes=int(ans[2]), gib=g,
                             first_in_jvm=first)
            if theirs:
                pt["torch"] = stats(theirs)
            self.log(f"{key}: ours {ms(pt['ours']['median'])}")

    def phase_open(self):
        self.open_points("hf", lambda g: self.index(self.hf(g)))

    def read_points(self, kind, logical, files):
        """cat/dd of FILES and TorchBridge 1 thread / all cores on LOGICAL, page cache warm."""
        r = self.a.repeat if self.a.gib <= 4 else max(3, self.a.repeat - 2)
        load_into_cache(files)
        nbytes = sum(os.path.getsize(f) for f in files)
        cmds = {
            "cat": ["sh", "-c", 'cat -- "$@" > /dev/null', "cat"] + files,
            "dd": ["sh", "-c", 'for f; do dd if="$f" of=/dev/null bs=16M status=none || exit 1; done', "dd"] + files,
            "cat_par": ["sh", "-c", f'printf "%s\\0" "$@" | xargs -0 -n1 -P{self.ncpu} cat > /dev/null', "cat"] + files,
        }
        times = {k: [] for k in list(cmds) + ["ours_1", "ours_all"]}
        res_start, sums = [], set()
        self.java("read", logical, self.ncpu)  # JIT warm-up (and a pass over the pages)
        for i in range(r + 1):  # pass 0 is the first pass, kept apart from the warm ones
            res_start.append(resident(files))
            for k, argv in cmds.items():
                times[k].append(run_timed(argv)[0])
            for k, th in (("ours_1", 1), ("ours_all", self.ncpu)):
                ans = self.java("read", logical, th)
                times[k].append(float(ans[0]))
                sums.add(ans[2])
                tensor_bytes = int(ans[3])
        pt = self.record(f"read/{kind}", file_bytes=nbytes, tensor_bytes=tensor_bytes, checksums=sorted(sums),
                         resident_start=res_start,
                         **{k: {"first_pass": v[0], **stats(v[1:])} for k, v in times.items()})
        self.log(f"read/{kind}: " + ", ".join(f"{k} {ms(pt[k]['median'])}" for k in times))

    def phase_read(self):
        d = self.hf()
        self.read_points("hf", self.index(d), self.shards(d))

    def phase_torch(self):
        d = self.hf()
        r = max(3, self.a.repeat - 2)
        load_into_cache(self.shards(d))
        self.torch("load", d)  # warm-up
        t, sums = [], set()
        for _ in range(r):
            ans = self.torch("load", d)
            t.append(float(ans[0]))
            sums.add(ans[2])
        pt = self.record("torch/hf", torch=stats(t), checksums=sorted(sums), anon_peak_kb=self.torch.anon_peak_kb)
        self.log(f"torch/hf: load_file + sum {ms(pt['torch']['median'])}")

    def phase_convert(self):
        d = self.hf()
        files = self.shards(d)
        nbytes = sum(os.path.getsize(f) for f in files)
        need = nbytes + (2 << 30)
        if free_bytes(self.out) < need:
            self.res["notes"].append(f"convert skipped: {need / GIB:.1f} GiB needed on {self.out}, "
                                     f"{free_bytes(self.out) / GIB:.1f} GiB free")
            self.log(self.res["notes"][-1])
            return
        r = max(3, self.a.repeat - 2)
        out = os.path.join(self.out, "converted.safetensors")
        cp_dir = os.path.join(self.out, "cp")

        def clean():
            shutil.rmtree(cp_dir, ignore_errors=True)
            if os.path.exists(out):
                os.unlink(out)
            os.sync()
            load_into_cache(files)

        env = dict(os.environ, TORCHBRIDGE_JAVA_OPTS="-Xmx64m")
        conv = [self.a.launcher, "convert", self.index(d), out]
        cp = ["sh", "-c", 'd=$1; shift; mkdir -p "$d" && cp -- "$@" "$d"/ && sync -- "$d"/*', "cp", cp_dir] + files
        clean()
        # Once untimed: the launcher's archive, and a check that the output holds the same bytes.
        run_timed(conv, env)
        ans = self.java("read", out, self.ncpu)
        out_sum, out_tensors = ans[2], int(ans[1])
        clean()
        t = {"cp": [], "ours": []}
        rss, anon = [], []
        for _ in range(r):
            t["cp"].append(run_timed(cp)[0])
            clean()
            s, m, an = run_timed(conv, env)
            t["ours"].append(s)
            rss.append(m)
            anon.append(an)
            clean()
        pt = self.record("convert/hf", bytes=nbytes, out_checksum=out_sum, out_tensors=out_tensors,
                         max_rss_kb=max(rss), anon_peak_kb=max(anon), **{k: stats(v) for k, v in t.items()})
        self.log(f"convert/hf: cp {ms(pt['cp']['median'])}, ours {ms(pt['ours']['median'])}")

    def phase_dcp(self):
        d = self.dcp()
        if not os.path.exists(os.path.join(d, ".metadata")):
            need = self.a.gib * GIB + (2 << 30)
            if free_bytes(self.a.dir) < need:
                self.res["notes"].append(f"DCP phase skipped: making {d} needs {need / GIB:.1f} GiB, "
                                         f"{free_bytes(self.a.dir) / GIB:.1f} GiB free")
                self.log(self.res["notes"][-1])
                return
            self.log(f"making {d} with torch.distributed.checkpoint, 2 ranks (once)")
            t0 = time.perf_counter()
            subprocess.run(["nice", "-n", "10", self.a.python, os.path.join(os.path.dirname(__file__), "torch_shards.py"),
                            "make-dcp", self.hf(), d], check=True, stdout=subprocess.DEVNULL)
            self.res["notes"].append(f"made {d} in {time.perf_counter() - t0:.0f} s")
        self.open_points("dcp", self.dcp)
        self.read_points("dcp", d, self.dcp_files(d))
        if not self.a.keep_dcp and free_bytes(self.a.dir) < self.a.gib * GIB * 1.1 + (3 << 30):
            shutil.rmtree(d)
            self.res["notes"].append(f"deleted {d} after the run: with it, the next run's convert output "
                                     f"would not fit (--keep-dcp keeps it)")

    # ---------------------------------------------------------------- report

    def report(self):
        P, R = self.res["points"], self.res
        lines, targets = [], []
        w = lines.append
        w(f"TorchBridge multi-file benchmark, {R['gib']} GiB ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
        w(f"  {R.get('torch', '')}; {R.get('java', '')}; {self.ncpu} cores; "
          f"other processes used {R.get('others_pct', '?')}% of the CPUs while it ran")
        if R.get("others_pct", 0) >= 10:
            w("  WARNING: other processes took 10% or more of the CPUs: the numbers are noisy")
        w("  median and min of the timed runs, interleaved; TorchBridge in one -Xmx64m JVM (its peak heap and RSS below)")

        opens = [k for k in P if k.startswith("open/")]
        if opens:
            w("")
            w("open the logical checkpoint: Checkpoint.open(index json | DCP dir) + tensors() + info() + close;")
            w("  torch: safetensors.safe_open of every shard + each tensor's shape and dtype")
            w(f"  {'checkpoint':<12}{'tensors':>8}{'data':>10}{'ours med':>12}{'min':>11}{'1st in JVM':>12}"
              f"{'torch med':>12}{'ratio':>8}")
            for k in opens:
                p = P[k]
                fst = ms(p["first_in_jvm"]) if p.get("first_in_jvm") else ""
                th = p.get("torch")
                w(f"  {k[5:]:<12}{p['tensors']:>8}{p['bytes'] / GIB:>6.2f} GiB{ms(p['ours']['median']):>12}"
                  f"{ms(p['ours']['min']):>11}{fst:>12}{ms(th['median']) if th else '':>12}"
                  f"{(format(p['ours']['median'] / th['median'], '.2f') + 'x') if th else '':>8}")
            for kind in ("hf", "dcp"):
                k = f"open/{kind}_{R['gib']}g"
                if k in P:
                    m = P[k]["ours"]["median"] * 1e3
                    targets.append((f"open <= {OPEN_MS:g} ms, {kind} {R['gib']} GiB", f"{m:.1f} ms", m <= OPEN_MS))
                pts = sorted((P[x]["gib"], P[x]["ours"]["median"]) for x in opens if x.startswith(f"open/{kind}_"))
                if len(pts) >= 2 and pts[-1][0] >= 5 * pts[0][0]:
                    ratio = pts[-1][1] / pts[0][1]
                    targets.append((f"open independent of size, {kind} {pts[-1][0]} vs {pts[0][0]} GiB",
                                    f"{pts[-1][1] * 1e3:.1f} / {pts[0][1] * 1e3:.1f} ms = {ratio:.2f}x",
                                    ratio <= OPEN_SIZE_RATIO))

        ref_sum = None
        for kind in ("hf", "dcp"):
            k = f"read/{kind}"
            if k not in P:
                continue
            p = P[k]
            b = p["tensor_bytes"]
            w("")
            w(f"read every byte, {kind}: {p['tensor_bytes'] / GIB:.2f} GiB of tensors in {p['file_bytes'] / GIB:.2f} GiB "
              f"of files; page cache share at each pass' start: "
              + ", ".join("?" if x is None else f"{x * 100:.0f}%" for x in p["resident_start"]))
            w("  ours = Checkpoint.open + a Vector API sum of every tensor's dataChunks() (16 MiB pieces on a fixed pool) + close")
            w(f"  {'case':<36}{'1st pass':>11}{'warm med':>11}{'min':>11}{'GB/s (med)':>12}")
            names = {"cat": "cat FILES > /dev/null (1 process)", "dd": "dd bs=16M of each file (1 process)",
                     "cat_par": f"cat, {self.ncpu} processes (xargs -P)", "ours_1": "TorchBridge, 1 thread",
                     "ours_all": f"TorchBridge, {self.ncpu} threads"}
            for c, label in names.items():
                x = p[c]
                nb = b if c.startswith("ours") else p["file_bytes"]
                w(f"  {label:<36}{ms(x['first_pass']):>11}{ms(x['median']):>11}{ms(x['min']):>11}"
                  f"{nb / x['median'] / 1e9:>12.2f}")
            gain = p["ours_1"]["median"] / p["ours_all"]["median"]
            targets.append((f"read, all cores >= {PAR_GAIN}x 1 thread, {kind}",
                            f"{ms(p['ours_1']['median'])} / {ms(p['ours_all']['median'])} = {gain:.2f}x", gain >= PAR_GAIN))
            ours_rate = b / p["ours_all"]["median"]
            cat_rate = p["file_bytes"] / p["cat"]["median"]
            targets.append((f"read at page-cache speed (>= cat's GB/s), {kind}",
                            f"{ours_rate / 1e9:.2f} vs {cat_rate / 1e9:.2f} GB/s = {ours_rate / cat_rate:.2f}x",
                            ours_rate >= cat_rate))
            w(f"  checksums over the runs: {', '.join(p['checksums'])}")
            if len(p["checksums"]) != 1:
                targets.append((f"the same bytes every run, {kind}", "runs DIFFER", False))
            elif ref_sum is None:
                ref_sum = p["checksums"][0]
            elif ref_sum != p["checksums"][0]:
                targets.append(("DCP bytes equal the shards'", "DIFFER", False))

        if "torch/hf" in P:
            p = P["torch/hf"]
            w("")
            w("torch 2.14: safetensors.torch.load_file of each shard (one in memory at a time) + the same sum of every tensor")
            w(f"  median {ms(p['torch']['median'])}, min {ms(p['torch']['min'])}; checksum {', '.join(p['checksums'])}; "
              f"its peak anonymous RSS {p['anon_peak_kb'] / 1024:.0f} MiB")
            if "read/hf" in P:
                ours = P["read/hf"]["ours_all"]["median"]
                ratio = ours / p["torch"]["median"]
                targets.append(("faster than torch loading the shards (read all bytes)",
                                f"{ms(ours)} vs {ms(p['torch']['median'])} = {ratio:.2f}x", ratio < 1))
                same = P["read/hf"]["checksums"] == p["checksums"]
                targets.append(("same bytes as torch (checksum)", "equal" if same else "DIFFER", same))

        if "convert/hf" in P:
            p = P["convert/hf"]
            w("")
            w(f"convert shards -> one .safetensors ({p['bytes'] / GIB:.2f} GiB): ./torchbridge convert INDEX OUT "
              f"(TORCHBRIDGE_JAVA_OPTS=-Xmx64m) vs cp of the shards to a folder + sync; source in the page cache")
            thr = p["cp"]["median"] / p["ours"]["median"]
            w(f"  cp + sync {ms(p['cp']['median'])} (min {ms(p['cp']['min'])}, {p['bytes'] / p['cp']['median'] / 1e9:.2f} GB/s), "
              f"convert {ms(p['ours']['median'])} (min {ms(p['ours']['min'])}, {p['bytes'] / p['ours']['median'] / 1e9:.2f} GB/s)")
            w(f"  convert's peak RSS {p['max_rss_kb'] / 1024:.0f} MiB (mapped file pages included), peak anonymous RSS "
              f"{p['anon_peak_kb'] / 1024:.0f} MiB; output: {p['out_tensors']} tensors, checksum {p['out_checksum']}")
            targets.append((f"convert >= {CONVERT_VS_CP:g}x cp's throughput", f"{thr:.2f}x", thr >= CONVERT_VS_CP))
            if ref_sum is not None:
                targets.append(("convert output has the same bytes", "equal" if p["out_checksum"] == ref_sum else "DIFFER",
                                p["out_checksum"] == ref_sum))

        if "mem" in R:
            m = R["mem"]
            w("")
            w(f"TorchBridge JVM (-Xmx64m): peak heap used {m['heap_peak'] / (1 << 20):.1f} MiB of {m['heap_max'] / (1 << 20):.0f}; "
              f"peak RSS (VmHWM, mapped file pages included) {m['vmhwm_kb'] / 1024:.0f} MiB; "
              f"peak anonymous RSS {m['anon_peak_kb'] / 1024:.0f} MiB; {m['gcs']} collections")
            targets.append(("heap bounded: every TorchBridge run in -Xmx64m", f"peak heap {m['heap_peak'] / (1 << 20):.1f} MiB",
                            m["heap_peak"] <= m["heap_max"]))

        for n in R["notes"]:
            w(f"  note: {n}")
        if targets:
            w("")
            w(f"  {'target (medians)':<58}{'measured':<40}result")
            for t, m, ok in targets:
                w(f"  {t:<58}{m:<40}{'PASS' if ok else 'FAIL'}")
        return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--gib", type=int, default=20)
    ap.add_argument("--python")
    ap.add_argument("--jar")
    ap.add_argument("--classes")
    ap.add_argument("--launcher")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", default="open,read,torch,convert,dcp")
    ap.add_argument("--keep-dcp", action="store_true")
    ap.add_argument("--report", metavar="JSON", help="only print the table of an earlier run's JSON")
    a = ap.parse_args()
    b = Bench(a)
    if a.report:
        with open(a.report) as f:
            b.res = json.load(f)
        print(b.report())
        return
    phases = a.only.split(",")
    t0, m0 = time.perf_counter(), machine_cpu()
    c0 = os.times()
    try:
        b.start()
        for ph in ("open", "read", "torch", "convert", "dcp"):
            if ph in phases:
                getattr(b, "phase_" + ph)()
        v = b.java("mem")
        b.res["mem"] = {"heap_peak": int(v[0]), "heap_max": int(v[1]), "vmhwm_kb": int(v[2]),
                        "anon_peak_kb": b.java.anon_peak_kb, "gcs": int(v[4])}
    finally:
        b.stop()
    c1 = os.times()
    mine = (c1.children_user + c1.children_system + c1.user + c1.system) - \
           (c0.children_user + c0.children_system + c0.user + c0.system)
    # The servers are children too, but they are reaped only at stop(): counted above after it.
    wall = time.perf_counter() - t0
    b.res["others_pct"] = max(0, round(100 * ((machine_cpu() - m0) - mine) / (wall * os.cpu_count())))
    b.res["wall_s"] = wall
    text = b.report()
    name = f"last-run-{a.gib}g"
    with open(os.path.join(a.dir, name + ".json"), "w") as f:
        json.dump(b.res, f, indent=1)
    with open(os.path.join(a.dir, name + ".txt"), "w") as f:
        f.write(text + "\n")
    print(text)
    print(f"shards-bench: {wall / 60:.1f} min; every run's time: {a.dir}/{name}.json", file=sys.stderr)


if __name__ == "__main__":
    main()
