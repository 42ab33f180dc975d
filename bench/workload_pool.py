#!/usr/bin/env python3
"""Call-heavy multiprocessing.Pool job for the benchmark's pool section.

    workload_pool.py [--calls N] [--depth D] [--workers W] [--tasks T]

Maps workload.py's call-heavy loop over T tasks (default 4 per worker) in
a Pool of W workers (default 4; the platform's default start method),
about N Python-level calls in all.  The job's time runs from creating the
Pool to joining it: worker start-up, the work, and the workers' exit
(where a profiler sends its last data) all count.  Prints, on stdout:
    WORKLOAD_S <seconds of the Pool job, perf_counter, from inside>
    PY_CALLS <Python calls made by the tasks>   C_CALLS <builtin calls>
"""
import argparse
import multiprocessing
import time

from workload import run


def task(args):
    units, depth = args
    run(units, depth)
    return units


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=12_000_000)
    ap.add_argument("--depth", type=int, default=60)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--tasks", type=int, default=0,
                    help="tasks in the map (default 4 per worker)")
    a = ap.parse_args()
    tasks = a.tasks or 4 * a.workers
    per_unit = 1 + 4 + a.depth + 1
    units = max(1, a.calls // per_unit // tasks)
    t0 = time.perf_counter()
    pool = multiprocessing.Pool(a.workers)
    done = sum(pool.map(task, [(units, a.depth)] * tasks, chunksize=1))
    pool.close()
    pool.join()
    dt = time.perf_counter() - t0
    print("WORKLOAD_S %.6f" % dt)
    # + run() and the Point constructor in every task
    print("PY_CALLS %d C_CALLS %d" % (done * per_unit + 2 * tasks, done))


if __name__ == "__main__":
    main()
