"""A Pool of CPU-bound tasks for test_verdict.py: the workers compute,
tasks and results are a few bytes, so the right verdict is compute, with
parallel true.

    python verdict_pool_cpu.py METHOD WORKERS TASKS SECONDS

Each task spins in pure Python for about SECONDS of CPU time.  Prints
MPPTEST_TRUTH {"main": pid, "pool_size": WORKERS, "workers": [pids that
ran tasks]}."""
import json
import multiprocessing as mp
import os
import sys
import time


def spin(seconds):
    c0 = time.thread_time()
    s = 0
    while time.thread_time() - c0 < seconds:
        for i in range(20000):
            s += i * i
    return os.getpid()


def main():
    method, workers = sys.argv[1], int(sys.argv[2])
    tasks, seconds = int(sys.argv[3]), float(sys.argv[4])
    ctx = mp.get_context(method)
    with ctx.Pool(workers) as pool:
        pids = pool.map(spin, [seconds] * tasks, chunksize=1)
    print("MPPTEST_TRUTH " + json.dumps({
        "main": os.getpid(), "pool_size": workers,
        "workers": sorted(set(pids))}), flush=True)


if __name__ == "__main__":
    main()
