#!/usr/bin/env python3
"""Long-running workload for the benchmark's memory section; run it under
`mpprof run`.

    workload_mem.py [--seconds S] [--interval I]

Keeps calling the same functions (workload.py's call-heavy loop) for S
seconds (default 60) and every I seconds (default 1) samples the
collector's own memory, mpprof._collector.mem_usage() (bytes its tables
and buffers hold), and this process's resident set size.  Prints, on
stdout, one line per sample, then the calls made:
    SAMPLE <seconds since start> <collector bytes> <RSS bytes>
    PY_CALLS <Python calls made>   C_CALLS <builtin calls>
"""
import argparse
import array
import os
import time

from workload import run

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--depth", type=int, default=60)
    a = ap.parse_args()
    try:
        from mpprof import _collector
        mem_usage = _collector.mem_usage
    except ImportError:
        # Not under mpprof: RSS only.
        def mem_usage():
            return -1
    per_unit = 1 + 4 + a.depth + 1
    batch = 500  # units between clock checks: a few milliseconds
    units = 0
    # Preallocated arrays of machine numbers, so that keeping the samples
    # allocates nothing: no object made here outlives a loop iteration.
    cap = int(a.seconds / a.interval) + 2
    ts = array.array("d", [0.0] * cap)
    mems = array.array("q", [0] * cap)
    rsss = array.array("q", [0] * cap)
    n = 0
    t0 = time.monotonic()
    end = t0 + a.seconds
    next_sample = t0 + a.interval
    while True:
        run(batch, a.depth)
        units += batch
        now = time.monotonic()
        if now >= next_sample or now >= end:
            # Stored, not printed: printing would grow buffers we measure.
            if n < cap:
                ts[n] = now - t0
                mems[n] = mem_usage()
                rsss[n] = rss_bytes()
                n += 1
            next_sample += a.interval
            if now >= end:
                break
    for i in range(n):
        print("SAMPLE %.3f %d %d" % (ts[i], mems[i], rsss[i]))
    print("PY_CALLS %d C_CALLS %d" % (units * per_unit + 2 * (units // batch),
                                      units))


if __name__ == "__main__":
    main()
