"""Builtins and methods of builtin types called from Python functions.

c_variety calls C functions of every shape the collector names in place
(mpp_names.c: module functions, methods found on the type or inherited by
a Python subclass, methods of extension types, class methods) so that
test_single compares each name with cProfile's."""
import collections
import io
import math
import operator
import re
import struct
import sys
import time


class Counts(dict):
    """A Python subclass: its get is dict's, found one step up the MRO."""


PATTERN = re.compile(r"w(\d+)")
PACKER = struct.Struct("<i")


def words(n):
    return ["w%d" % i for i in range(n)]


def shout(ws):
    return [w.upper() for w in ws]


def stats(ws):
    d = {}
    for w in ws:
        d[len(w)] = d.get(len(w), 0) + 1
    return sorted(d.items())


def joined(ws):
    s = ",".join(ws)
    return len(s.split(","))


def c_variety(ws):
    counts = Counts()
    queue = collections.deque()
    out = io.StringIO()
    total = 0
    for w in ws:
        counts[w] = counts.get(w, 0) + 1
        queue.append(w)
        total += int(PATTERN.match(w).group(1))
        out.write(w)
        total += len(PACKER.pack(len(w)))
        total += int(math.sqrt(len(w)))
    total += len(dict.fromkeys(ws)) + len({}.fromkeys(ws))
    total += len(bytes.fromhex("00ff")) + operator.add(1, 2)
    time.monotonic()
    return total + len(out.getvalue()) + len(queue) + len(counts)


def driver(rounds):
    total = 0
    acc = []
    for r in range(rounds):
        ws = words(20 + r % 5)
        total += len(shout(ws))
        total += len(stats(ws))
        total += joined(ws)
        acc.append(max(len(w) for w in ws))
        total += abs(-r) + min(r, 3)
        if r % 10 == 0:
            total += c_variety(ws)
    return total + sum(acc)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    print("result", driver(rounds))


if __name__ == "__main__":
    main()
