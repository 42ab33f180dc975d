#!/usr/bin/env python3
"""Benchmark of one `mpprof collect` fed by several hosts (issue 15):
H simulated hosts (network namespaces on a bridge when root, else
loopback with MPPROF_HOST), each running `mpprof run --join` of a Pool of
P-1 workers, so H * P processes stream to one aggregator.  Prints the
aggregator's CPU time and peak memory, what it received, the time to
close the session and write the outputs, and checks the merged count of
hot() against what the hosts made.

    bench/hosts.py [--hosts 4] [--procs 16] [--calls 200000]
                   [--mpprof build/mpprof] [--python python3] [--loopback]
"""
import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, "tests", "integration"))
import netns  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=4)
    ap.add_argument("--procs", type=int, default=16,
                    help="processes per host (the main one and P-1 workers)")
    ap.add_argument("--calls", type=int, default=200000,
                    help="calls of hot() per host")
    ap.add_argument("--mpprof", default=os.environ.get(
        "MPPROF", os.path.join(HERE, os.pardir, "build", "mpprof")))
    ap.add_argument("--python", default=os.environ.get("MPPROF_PYTHON",
                                                        "python3"))
    ap.add_argument("--loopback", action="store_true",
                    help="no namespaces, even as root")
    a = ap.parse_args()
    mpprof = os.path.abspath(a.mpprof)
    use_ns = not a.loopback and netns.unavailable() is None
    tmp = tempfile.mkdtemp(prefix="mpprof-bench-hosts-")
    hosts = netns.Hosts(a.hosts) if use_ns else None
    try:
        if hosts:
            hosts.__enter__()
        bind = "tcp://%s:0" % (hosts.gateway if hosts else "127.0.0.1")
        out = os.path.join(tmp, "out")
        col = subprocess.Popen(
            [mpprof, "collect", "-q", "-o", out, "--bind", bind,
             "--expect", str(a.hosts), "--idle", "300", "--join-file",
             os.path.join(tmp, "join")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        join = col.stdout.readline().strip()
        t0 = time.monotonic()
        runs = []
        for k in range(a.hosts):
            argv = [mpprof, "run", "-q", "--join", join, "--python",
                    a.python, os.path.join(HERE, "workload_hosts.py"),
                    str(a.procs - 1), str(a.calls)]
            env = dict(os.environ, MPPROF_HOST="host%d" % k)
            runs.append(subprocess.Popen(
                hosts.argv(k, argv) if hosts else argv, env=env,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        for r in runs:
            o, e = r.communicate(timeout=900)
            if r.returncode != 0:
                sys.exit("a host's run failed: %s" % e[-2000:])
        t_runs = time.monotonic() - t0
        _, status, ru = os.wait4(col.pid, 0)
        col.returncode = os.waitstatus_to_exitcode(status)
        err = col.stderr.read()
        t_all = time.monotonic() - t0
        if col.returncode != 0:
            sys.exit("collect failed: %s" % err[-2000:])
        rep = subprocess.run([mpprof, "report", out, "--json"],
                             capture_output=True, text=True, check=True)
        doc = json.loads(rep.stdout)
        calls = sum(f["ncalls"] for f in doc["functions"]
                    if f["name"] == "hot")
        m = re.search(r"received (\d+) messages \(([\d.]+) MB\) from (\d+) "
                      r"processes; closing the session took ([\d.]+) s, "
                      r"writing the outputs ([\d.]+) s", err)
        print("mpprof collect, %d hosts (%s) x %d processes, %d calls of "
              "hot() per host" % (a.hosts, "network namespaces" if hosts
                                  else "loopback", a.procs, a.calls))
        print("  processes in the profile: %d (expected %d)"
              % (len(doc["processes"]), a.hosts * a.procs))
        print("  hot() calls merged: %d (expected %d) %s"
              % (calls, a.hosts * a.calls,
                 "exact" if calls == a.hosts * a.calls else "WRONG"))
        print("  runs' wall time: %.2f s; until the outputs were written: "
              "%.2f s" % (t_runs, t_all))
        print("  aggregator CPU: user %.2f s, system %.2f s; peak memory "
              "(max RSS) %.1f MB" % (ru.ru_utime, ru.ru_stime,
                                     ru.ru_maxrss / 1024.0))
        if m:
            print("  received %s messages, %s MB; closing the session "
                  "(merge) %s s; writing the outputs %s s"
                  % (m.group(1), m.group(2), m.group(4), m.group(5)))
        print("  integrity: %s" % json.dumps(doc["integrity"]))
        sys.exit(0 if calls == a.hosts * a.calls
                 and len(doc["processes"]) == a.hosts * a.procs else 1)
    finally:
        if hosts:
            hosts.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
