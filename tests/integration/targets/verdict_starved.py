"""A Pool whose workers starve, for test_verdict.py: the main process
starts a Pool, then computes for a while before it hands out any task, so
every worker waits for its first task all that time.  With three workers
or more, all but one of them wait on the task queue's read lock (the one
holding it waits in the pipe's read): idle, not lock contention.  The
program's cost is the main process's compute, so the right verdict is
compute.

    python verdict_starved.py METHOD WORKERS SECONDS

The main process spins for SECONDS of CPU time, then maps WORKERS tasks of
nothing with chunksize 1.  Prints MPPTEST_TRUTH {"main": pid, "pool_size":
WORKERS, "workers": [pids that ran tasks], "main_cpu_s": its spinning}."""
import json
import multiprocessing as mp
import os
import sys
import time


def pid(_):
    return os.getpid()


def spin(seconds):
    c0 = time.thread_time()
    s = 0
    while time.thread_time() - c0 < seconds:
        for i in range(20000):
            s += i * i
    return time.thread_time() - c0


def main():
    method, workers, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    ctx = mp.get_context(method)
    with ctx.Pool(workers) as pool:
        # Every worker is up and waiting before the main process computes.
        pool.map(pid, range(workers), chunksize=1)
        spent = spin(seconds)
        pids = pool.map(pid, range(workers), chunksize=1)
    print("MPPTEST_TRUTH " + json.dumps({
        "main": os.getpid(), "pool_size": workers,
        "workers": sorted(set(pids)), "main_cpu_s": spent}), flush=True)


if __name__ == "__main__":
    main()
