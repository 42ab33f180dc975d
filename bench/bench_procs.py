"""bench.py's `procs` section: what mpprof costs per child process.

Every mode runs workload_procs.py twice per round, with N children and with
none, alternating with the other modes; a run's CPU time is that of the
whole process tree (os.wait4 on the command: the launcher, the target and
every child reaped under them, and the orphans this process reaps as their
subreaper), and its wall time that of the command.  The
cost of one child is the difference between the two runs over N, less the
same difference unprofiled.  Modes: unprofiled, mpprof with the collectors
streaming over sockets (MPPROF_MAPS=0) and with the agent reading their
mappings (MPPROF_MAPS=1).  Targets (issue 12): at most 1 ms of extra CPU
per fork child and 5 ms per spawn child."""
import os
import statistics
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOAD = os.path.join(HERE, "workload_procs.py")
# (start method, children per run, target in ms of extra CPU per child)
KINDS = (("fork", 64, 1.0), ("spawn", 16, 5.0))


class ProcsError(Exception):
    pass


_SUBREAPER = []


def _become_subreaper():
    """Makes this process the reaper of every orphan of its commands.

    A process its parent leaves behind (multiprocessing's resource
    tracker outlives the script by a moment) is reaped by the nearest
    subreaper up the tree, and its CPU counts there.  mpprof's launcher is
    one, so without a subreaper here the tracker's CPU counted in the
    profiled runs only (3-4 ms per spawn child of 16, for a process that
    runs once per run).  With this process the reaper of both, both count
    it."""
    if not _SUBREAPER:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_CHILD_SUBREAPER = 36
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise ProcsError("prctl(PR_SET_CHILD_SUBREAPER) failed: errno %d"
                             % ctypes.get_errno())
        _SUBREAPER.append(True)


def run_tree(cmd, env, cwd):
    """(wall s, CPU s of the whole tree) of one run; raises on failure.
    The wall time is the command's; the CPU that of the command and of
    every process of its tree, orphans included (_become_subreaper)."""
    _become_subreaper()
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = 0  # reaped here; keeps Popen from waiting again
    wall = time.perf_counter() - t0
    cpu = ru.ru_utime + ru.ru_stime
    while True:  # the orphans, once they end
        try:
            _, _, ru = os.wait4(-1, 0)
        except ChildProcessError:
            break
        cpu += ru.ru_utime + ru.ru_stime
    if status != 0:
        raise ProcsError("%s failed (wait status %d): %s" % (
            " ".join(cmd), status, err.decode(errors="replace")[-2000:]))
    return wall, cpu


def section_procs(args, ctx, figures_cls):
    py, mpprof, tmp = ctx["python"], ctx["mpprof"], ctx["tmpdir"]
    figs = figures_cls("procs")
    out = os.path.join(tmp, "mpprof-procs")
    base_env = dict(os.environ)
    modes = {
        "unprofiled": ([py], {}),
        "mpprof sockets": ([mpprof, "run", "-q", "-o", out, "--python", py],
                           {"MPPROF_MAPS": "0"}),
        "mpprof maps": ([mpprof, "run", "-q", "-o", out, "--python", py],
                        {"MPPROF_MAPS": "1"}),
    }
    rounds = max(3, args.rounds)
    result = {}
    for method, n, target_ms in KINDS:
        if args.quick:
            n = max(4, n // 4)
        print("== procs: %d %s children per run vs none; %d rounds + 1 warm-up, "
              "alternating; CPU of the whole process tree" % (n, method, rounds))
        cpu = {(m, k): [] for m in modes for k in (0, n)}
        wall = {(m, k): [] for m in modes for k in (0, n)}
        names = list(modes)
        for r in range(-1, rounds):
            rot = r % len(names)
            for m in names[rot:] + names[:rot]:
                prefix, extra = modes[m]
                env = dict(base_env, **extra)
                for k in (n, 0):
                    w, c = run_tree(prefix + [WORKLOAD, method, str(k)], env,
                                    tmp)
                    if r >= 0:
                        cpu[(m, k)].append(c)
                        wall[(m, k)].append(w)

        def per_child(m, table):
            med = {k: statistics.median(table[(m, k)]) for k in (0, n)}
            return (med[n] - med[0]) / n

        base_cpu = per_child("unprofiled", cpu)
        base_wall = per_child("unprofiled", wall)
        print("%-16s %18s %18s" % ("mode", "CPU ms per child", "wall ms per child"))
        rows = {}
        for m in names:
            c, w = per_child(m, cpu), per_child(m, wall)
            rows[m] = {"cpu_ms": c * 1e3, "wall_ms": w * 1e3,
                       "extra_cpu_ms": (c - base_cpu) * 1e3,
                       "extra_wall_ms": (w - base_wall) * 1e3}
            print("%-16s %18.2f %18.2f" % (m, c * 1e3, w * 1e3))
        for m in names[1:]:
            x = rows[m]
            figs.add("extra CPU per %s child, %s" % (method, m),
                     "%.2f ms (wall %.2f ms)" % (x["extra_cpu_ms"],
                                                 x["extra_wall_ms"]),
                     "<= %.0f ms" % target_ms if m == "mpprof maps" else "none",
                     x["extra_cpu_ms"] <= target_ms if m == "mpprof maps"
                     else None)
        result[method] = {"children": n, "modes": rows}
    return {"ok": figs.ok, "figures": figs.rows, "kinds": result}
