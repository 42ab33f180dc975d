#!/usr/bin/env python3
"""Starts N child processes that do almost nothing, with one start method,
for the per-process cost figures of bench.py's `procs` section.

    workload_procs.py METHOD N      METHOD: fork | spawn | forkserver

Each child runs tiny() and ends; the parent starts them all, then joins
them.  With N = 0 it measures what the rest of the run costs, so that the
difference over N is the cost of one child."""
import multiprocessing
import sys


def tiny():
    return sum(range(100))


def main():
    method, n = sys.argv[1], int(sys.argv[2])
    ctx = multiprocessing.get_context(method)
    procs = [ctx.Process(target=tiny) for _ in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    bad = [p.exitcode for p in procs if p.exitcode != 0]
    if bad:
        sys.exit("children failed: %r" % bad)


if __name__ == "__main__":
    main()
