#!/usr/bin/env python3
"""Call-heavy workload for the overhead benchmark.

    workload.py [--calls N] [--depth D]

Runs units of: a method call into two small functions, a recursion of
depth D, and one builtin call; enough units for about N Python-level calls.
Prints, on stdout:
    WORKLOAD_S <seconds spent in the workload, perf_counter, from inside>
    PY_CALLS <Python function calls made>   C_CALLS <builtin calls made>
"""
import argparse
import time


def leaf(x):
    return x + 1


def mid(x):
    return leaf(x) + leaf(x + 1)


class Point:
    __slots__ = ("k",)

    def __init__(self, k):
        self.k = k

    def method(self, x):
        return mid(x + self.k)


def recurse(n):
    return 0 if n == 0 else recurse(n - 1) + 1


def unit(i, p, depth, seq):
    s = p.method(i)        # 4 Python calls
    s += recurse(depth)    # depth + 1 Python calls
    s += len(seq)          # 1 builtin call
    return s               # + this call


def run(units, depth):
    p = Point(3)
    seq = (1, 2, 3)
    total = 0
    for i in range(units):
        total += unit(i, p, depth, seq)
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=3_000_000)
    ap.add_argument("--depth", type=int, default=60)
    a = ap.parse_args()
    per_unit = 1 + 4 + a.depth + 1
    units = max(1, a.calls // per_unit)
    t0 = time.perf_counter()
    run(units, a.depth)
    dt = time.perf_counter() - t0
    print("WORKLOAD_S %.6f" % dt)
    # + run() itself and the Point constructor
    print("PY_CALLS %d C_CALLS %d" % (units * per_unit + 2, units))


if __name__ == "__main__":
    main()
