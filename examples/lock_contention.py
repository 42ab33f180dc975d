#!/usr/bin/env python3
"""Processes contending for one multiprocessing.Lock around short critical
sections: most of each worker's time is spent waiting for the lock.

    mpprof run lock_contention.py [ITERATIONS] [--procs P]

Each of P processes increments a shared counter ITERATIONS times, taking the
lock for every increment and doing a little work inside it.  The final count
is checked, so the program also shows that the lock is needed."""
import argparse
import multiprocessing
import os
import sys
import time


def critical_section(counter, i):
    # a short but not empty critical section
    value = counter.value
    for k in range(200):
        value += (i + k) % 2 - (i + k) % 2
    counter.value = value + 1


def outside_work(i):
    return (i * 31) & 0xFF


def worker(lock, counter, iterations):
    acc = 0
    for i in range(iterations):
        with lock:
            critical_section(counter, i)
        acc += outside_work(i)
    return acc


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("iterations", nargs="?", type=int, default=10000)
    ap.add_argument("--procs", type=int, default=max(4, os.cpu_count() or 2))
    a = ap.parse_args()
    lock = multiprocessing.Lock()
    counter = multiprocessing.Value("q", 0, lock=False)
    t0 = time.perf_counter()
    procs = [multiprocessing.Process(target=worker, args=(lock, counter, a.iterations))
             for _ in range(a.procs)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    expected = a.procs * a.iterations
    print("procs=%d iterations=%d counter=%d %s" % (
        a.procs, a.iterations, counter.value,
        "ok" if counter.value == expected else "WRONG (expected %d)" % expected))
    print("elapsed %.3f s" % (time.perf_counter() - t0), file=sys.stderr)
    if counter.value != expected:
        sys.exit(1)


if __name__ == "__main__":
    main()
