#!/usr/bin/env python3
"""mpprof's benchmark driver.

    bench.py [options] [SECTION ...]        (default section: overhead)

Sections (each a function registered in SECTIONS; add new ones there):
  overhead   call-heavy workload.py run unprofiled, under
             `python -m cProfile -o TMP` and under `mpprof run -q -o TMP`,
             alternating, --rounds times; medians of the time measured
             inside the script (perf_counter around the workload) and of the
             whole-process wall time; the overhead ratios and the ratio of
             ratios (mpprof slowdown / cProfile slowdown) against --target.

Options common to all sections: --mpprof PATH (or $MPPROF; default
build/mpprof in the repository), --python PATH (or $MPPROF_PYTHON; default
python3 from PATH, resolved to the real interpreter), --rounds N,
--json FILE (machine-readable results), --check (exit 1 when a target is
missed).  Standard library only.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
WORKLOAD = os.path.join(HERE, "workload.py")


# --- plumbing shared by the sections ----------------------------------------

class BenchError(Exception):
    pass


def resolve_python(py):
    py = py or os.environ.get("MPPROF_PYTHON") or shutil.which("python3") or sys.executable
    # pyenv and similar shims are shell scripts that would add their own
    # start-up time to every wall-clock measurement.
    out = subprocess.run([py, "-c", "import sys; print(sys.executable)"],
                         capture_output=True, text=True)
    real = out.stdout.strip()
    if out.returncode != 0 or not real:
        raise BenchError("cannot run python %r: %s" % (py, out.stderr.strip()))
    return real


def resolve_mpprof(path):
    path = path or os.environ.get("MPPROF") or os.path.join(REPO, "build", "mpprof")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise BenchError("mpprof binary %r not found (build it, or pass "
                         "--mpprof PATH / set MPPROF)" % path)
    return os.path.abspath(path)


def timed(argv, cwd=None):
    """Runs ARGV; returns (whole-process wall seconds, stdout)."""
    t0 = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, text=True, cwd=cwd)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise BenchError("%s failed with status %d:\n%s" % (
            " ".join(argv), p.returncode, p.stderr[-2000:]))
    return wall, p.stdout


def parse_kv(stdout):
    """WORKLOAD_S / PY_CALLS / C_CALLS lines -> dict of numbers."""
    out = {}
    for line in stdout.splitlines():
        parts = line.split()
        for k, v in zip(parts[0::2], parts[1::2]):
            if k.isupper():
                try:
                    out[k] = float(v) if "." in v else int(v)
                except ValueError:
                    pass
    return out


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt_s(x):
    return "%8.3f s" % x


# --- section: overhead --------------------------------------------------------

def section_overhead(args, ctx):
    py, mpprof = ctx["python"], ctx["mpprof"]
    tmp = ctx["tmpdir"]
    wl = [WORKLOAD, "--calls", str(args.calls), "--depth", str(args.depth)]
    cprof_out = os.path.join(tmp, "cprofile.prof")
    mp_out = os.path.join(tmp, "mpprof-out")
    modes = {
        "unprofiled": [py] + wl,
        "cProfile": [py, "-m", "cProfile", "-o", cprof_out] + wl,
        "mpprof": [mpprof, "run", "-q", "-o", mp_out, "--python", py] + wl,
    }
    names = list(modes)
    inner = {m: [] for m in names}
    wall = {m: [] for m in names}
    calls = None
    for r in range(-args.warmup, args.rounds):
        # Rotate the order every round so no mode always runs first/last.
        k = r % len(names)
        for m in names[k:] + names[:k]:
            w, out = timed(modes[m], cwd=tmp)
            kv = parse_kv(out)
            if "WORKLOAD_S" not in kv:
                raise BenchError("%s printed no WORKLOAD_S line:\n%s" % (m, out))
            calls = (kv.get("PY_CALLS"), kv.get("C_CALLS"))
            if r >= 0:
                inner[m].append(kv["WORKLOAD_S"])
                wall[m].append(w)
        if args.verbose and r >= 0:
            print("  round %d: %s" % (r + 1, "  ".join(
                "%s %.3f/%.3f" % (m, inner[m][-1], wall[m][-1]) for m in names)),
                file=sys.stderr)

    med_i = {m: median(inner[m]) for m in names}
    med_w = {m: median(wall[m]) for m in names}
    events = sum(c for c in calls if c) if calls else 0

    def ratios(med):
        base = med["unprofiled"]
        mp_r = med["mpprof"] / base
        cp_r = med["cProfile"] / base
        extra_mp = med["mpprof"] - base
        extra_cp = med["cProfile"] - base
        return {
            "mpprof_over_unprofiled": mp_r,
            "cprofile_over_unprofiled": cp_r,
            "ratio_of_ratios": mp_r / cp_r,
            "extra_time_ratio": (extra_mp / extra_cp) if extra_cp > 0 else float("nan"),
            "mpprof_ns_per_call": extra_mp / events * 1e9 if events else float("nan"),
            "cprofile_ns_per_call": extra_cp / events * 1e9 if events else float("nan"),
        }

    ri, rw = ratios(med_i), ratios(med_w)
    ok = ri["ratio_of_ratios"] <= args.target

    print("== overhead: workload.py --calls %d --depth %d (%s Python + %s builtin "
          "calls per run), %d rounds" % (args.calls, args.depth, calls[0], calls[1],
                                         args.rounds))
    print("   python %s\n   mpprof %s" % (py, mpprof))
    print("%-12s %22s %22s" % ("", "inside the script", "whole process"))
    print("%-12s %10s %11s %10s %11s" % ("mode", "median", "min..max", "median", "min..max"))
    for m in names:
        print("%-12s %s %5.2f..%-5.2f %s %5.2f..%-5.2f" % (
            m, fmt_s(med_i[m]), min(inner[m]), max(inner[m]),
            fmt_s(med_w[m]), min(wall[m]), max(wall[m])))
    for label, rr in (("inside", ri), ("whole", rw)):
        print("%-7s mpprof/unprofiled %5.2fx   cProfile/unprofiled %5.2fx   "
              "ratio of ratios %.3f   extra-time ratio %.3f   "
              "per call: mpprof %.1f ns, cProfile %.1f ns" % (
                  label, rr["mpprof_over_unprofiled"], rr["cprofile_over_unprofiled"],
                  rr["ratio_of_ratios"], rr["extra_time_ratio"],
                  rr["mpprof_ns_per_call"], rr["cprofile_ns_per_call"]))
    print("ratio of ratios (mpprof slowdown / cProfile slowdown, inside the "
          "script) = %.3f, target <= %.2f: %s" % (
              ri["ratio_of_ratios"], args.target, "PASS" if ok else "FAIL"))
    return {
        "ok": ok,
        "target": args.target,
        "calls": {"python": calls[0], "builtin": calls[1]},
        "rounds": args.rounds,
        "inner_s": inner, "wall_s": wall,
        "median_inner_s": med_i, "median_wall_s": med_w,
        "ratios_inner": ri, "ratios_wall": rw,
    }


# Later sections (callgrind instructions per event, a Pool job, aggregator
# throughput) register here: name -> function(args, ctx) -> result dict
# with at least {"ok": bool}.
SECTIONS = {
    "overhead": section_overhead,
}


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="mpprof benchmarks", epilog="sections: " + ", ".join(SECTIONS))
    ap.add_argument("sections", nargs="*", default=["overhead"], metavar="SECTION")
    ap.add_argument("--mpprof", help="mpprof binary (default $MPPROF or build/mpprof)")
    ap.add_argument("--python", help="target python (default $MPPROF_PYTHON or python3)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1,
                    help="unmeasured rounds first (default 1)")
    ap.add_argument("--calls", type=int, default=3_000_000,
                    help="Python calls per workload run (default 3M)")
    ap.add_argument("--depth", type=int, default=60, help="recursion depth")
    ap.add_argument("--target", type=float, default=1.0,
                    help="max ratio of ratios (default 1.0; later 0.8)")
    ap.add_argument("--json", metavar="FILE", help="write results as JSON")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 when a section misses its target")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    for s in args.sections:
        if s not in SECTIONS:
            ap.error("unknown section %r (have: %s)" % (s, ", ".join(SECTIONS)))
    try:
        ctx = {"python": resolve_python(args.python),
               "mpprof": resolve_mpprof(args.mpprof)}
        results = {}
        with tempfile.TemporaryDirectory(prefix="mpprof-bench-") as tmp:
            ctx["tmpdir"] = tmp
            for s in args.sections:
                results[s] = SECTIONS[s](args, ctx)
    except BenchError as e:
        print("bench: %s" % e, file=sys.stderr)
        return 2
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    if args.check and not all(r.get("ok", True) for r in results.values()):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
