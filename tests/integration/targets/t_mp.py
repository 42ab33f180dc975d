"""Multiprocessing scenarios for test_multiproc.py.

    python t_mp.py SCENARIO METHOD N [--exec-child]

SCENARIO: pool, process, executor, nested, subprocess, many, pool16, sigkill.
METHOD: fork, spawn or forkserver.  `work` is called exactly N times in
total, across all processes.

Ground truth: every Python process this program creates appends one JSON
line {pid, ppid, role, method, name} to $MPPTEST_TRUTH_FILE when it starts
(helper processes -- the forkserver and the resource tracker -- are recorded
by the process that started them, with their ppid read from /proc).  The
main process prints MPPTEST_TRUTH {...} with anything else the test needs.
"""
import json
import os
import signal
import subprocess
import sys
import time
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor

TRUTH = os.environ.get("MPPTEST_TRUTH_FILE")


# --- ground truth ------------------------------------------------------------

def record(role, method, pid=None, ppid=None, name=True):
    if not TRUTH:
        return
    rec = {"pid": pid or os.getpid(),
           "ppid": os.getppid() if ppid is None else ppid,
           "role": role, "method": method,
           "name": mp.current_process().name if name is True else name}
    fd = os.open(TRUTH, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(rec) + "\n").encode())
    finally:
        os.close(fd)


def read_truth():
    if not TRUTH or not os.path.exists(TRUTH):
        return []
    with open(TRUTH) as f:
        return [json.loads(l) for l in f if l.strip()]


def wait_for_role(role, n, timeout=60.0):
    """Waits until N processes recorded ROLE, so that every worker of a pool
    has really started before the pool is used (and later terminated)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(1 for r in read_truth() if r["role"] == role) >= n:
            return
        time.sleep(0.01)
    raise SystemExit("timeout waiting for %d x %s" % (n, role))


def proc_ppid(pid):
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    return int(s[s.rindex(")") + 2:].split()[1])


def record_helpers():
    """Records the forkserver and resource-tracker processes this process
    started, if any (they are Python processes too)."""
    from multiprocessing import forkserver, resource_tracker
    helpers = (("forkserver", getattr(forkserver._forkserver, "_forkserver_pid", None)),
               ("resource_tracker", getattr(resource_tracker._resource_tracker, "_pid", None)))
    for role, pid in helpers:
        if pid:
            try:
                ppid = proc_ppid(pid)
            except OSError:
                continue
            record(role, None, pid=pid, ppid=ppid, name=None)


# --- the profiled functions --------------------------------------------------

def work(x):
    return x * x


def doomed_work(x):
    return x + 1


def spin_step(x):
    return x


def shares(n, k):
    """N items split into K nearly equal consecutive ranges."""
    out, start = [], 0
    for i in range(k):
        size = n // k + (1 if i < n % k else 0)
        out.append(range(start, start + size))
        start += size
    return out


def proc_main(role, method, items):
    record(role, method)
    return sum(work(x) for x in items)


def doomed_main(role, method, k, spin_s):
    record(role, method)
    for i in range(k):
        doomed_work(i)
    # Keep making calls for several flush intervals, so the calls above are
    # certainly flushed before the SIGKILL.
    end = time.monotonic() + spin_s
    i = 0
    while time.monotonic() < end:
        spin_step(i)
        i += 1
    os.kill(os.getpid(), signal.SIGKILL)


def nested_child(method, n):
    record("nested-child", method)
    ctx = mp.get_context(method)
    with ctx.Pool(2, initializer=record, initargs=("nested-worker", method)) as p:
        wait_for_role("nested-worker", 2)
        res = p.map(work, range(n))
        record_helpers()
    assert res == [work_expected(x) for x in range(n)]


def work_expected(x):
    return x * x


# --- scenarios ---------------------------------------------------------------

def sc_pool(ctx, method, n, workers=2, role="pool-worker"):
    with ctx.Pool(workers, initializer=record, initargs=(role, method)) as p:
        wait_for_role(role, workers)
        res = p.map(work, range(n), chunksize=1 if workers > 2 else None)
        record_helpers()
    # leaving the with block terminates the workers
    assert res == [work_expected(x) for x in range(n)]


def sc_pool16(ctx, method, n):
    sc_pool(ctx, method, n, workers=16, role="pool16-worker")


def sc_process(ctx, method, n):
    procs = [ctx.Process(target=proc_main, args=("process", method, r))
             for r in shares(n, 3)]
    for p in procs:
        p.start()
    record_helpers()
    for p in procs:
        p.join()
    assert all(p.exitcode == 0 for p in procs)


def sc_many(ctx, method, n):
    procs = [ctx.Process(target=proc_main, args=("many", method, r))
             for r in shares(n, 64)]
    for p in procs:
        p.start()
    record_helpers()
    for p in procs:
        p.join()
    assert all(p.exitcode == 0 for p in procs)


def sc_executor(ctx, method, n):
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx, initializer=record,
                             initargs=("executor-worker", method)) as ex:
        res = list(ex.map(work, range(n)))
        record_helpers()
    assert res == [work_expected(x) for x in range(n)]


def sc_nested(ctx, method, n):
    p = ctx.Process(target=nested_child, args=(method, n))
    p.start()
    record_helpers()
    p.join()
    assert p.exitcode == 0


def sc_subprocess(ctx, method, n):
    # A python started with subprocess, which itself runs a pool with METHOD.
    # Both it and this process call work: n//2 there, the rest here.
    child_n = n // 2
    subprocess.run([sys.executable, os.path.abspath(__file__), "pool", method,
                    str(child_n), "--exec-child"], check=True)
    for x in range(n - child_n):
        work(x)


def sc_sigkill(ctx, method, n):
    doomed_k = 23
    procs = [ctx.Process(target=proc_main, args=("process", method, r))
             for r in shares(n, 3)]
    doomed = ctx.Process(target=doomed_main, args=("doomed", method, doomed_k, 0.6))
    for p in procs + [doomed]:
        p.start()
    record_helpers()
    for p in procs + [doomed]:
        p.join()
    assert all(p.exitcode == 0 for p in procs)
    assert doomed.exitcode == -signal.SIGKILL, doomed.exitcode
    print("MPPTEST_TRUTH " + json.dumps({"doomed_pid": doomed.pid,
                                         "doomed_calls": doomed_k}))


SCENARIOS = {name[3:]: fn for name, fn in globals().items()
             if name.startswith("sc_")}


def main():
    args = [a for a in sys.argv[1:] if a != "--exec-child"]
    exec_child = "--exec-child" in sys.argv
    scenario, method, n = args[0], args[1], int(args[2])
    if exec_child:
        record("exec-child", "exec")
    else:
        record("main", "main")
    ctx = mp.get_context(method)
    SCENARIOS[scenario](ctx, method, n)
    record_helpers()
    if not exec_child:
        print("MPPTEST_TRUTH " + json.dumps({"n": n, "main_pid": os.getpid()}))


if __name__ == "__main__":
    main()
