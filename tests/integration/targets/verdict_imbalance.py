"""A Pool with one task far longer than the others, for test_verdict.py:
the right verdict is imbalance.

    python verdict_imbalance.py METHOD WORKERS LONG SHORT NSHORT

The first task spins for LONG seconds and the NSHORT others for SHORT
seconds each, one task at a time (chunksize 1).  Tasks spin for wall-clock
time, not CPU time, so that a busy machine stretches none of them: the
lengths, and the idle time they cause, hold by construction.  Whichever worker
takes the first task holds it for LONG; the others share the short tasks,
all done long before (NSHORT * SHORT is well under LONG), then wait for
tasks that never come while the long task goes on.  Prints MPPTEST_TRUTH
{"main": pid, "pool_size": WORKERS, "long_worker": pid, "workers": [pids
that ran tasks], "idle_s": how long the other workers were idle, in all,
between their last task and the end of the long one (time.monotonic, the
same clock in every process)}: the idle time as it happened, which a
machine too busy to start the workers together makes shorter than
LONG - NSHORT * SHORT."""
import json
import multiprocessing as mp
import os
import sys
import time


def spin(seconds):
    t0 = time.monotonic()
    s = 0
    while time.monotonic() - t0 < seconds:
        for i in range(20000):
            s += i * i
    return os.getpid(), t0, time.monotonic()


def main():
    method, workers = sys.argv[1], int(sys.argv[2])
    long_s, short_s, nshort = (float(sys.argv[3]), float(sys.argv[4]),
                               int(sys.argv[5]))
    ctx = mp.get_context(method)
    with ctx.Pool(workers) as pool:
        done = pool.map(spin, [long_s] + [short_s] * nshort, chunksize=1)
    long_pid, _, long_end = done[0]
    last = {}
    for pid, _, end in done[1:]:
        if pid != long_pid:
            last[pid] = max(last.get(pid, end), end)
    print("MPPTEST_TRUTH " + json.dumps({
        "main": os.getpid(), "pool_size": workers, "long_worker": long_pid,
        "workers": sorted({pid for pid, _, _ in done}),
        "idle_s": sum(max(0.0, long_end - end) for end in last.values())}),
        flush=True)


if __name__ == "__main__":
    main()
