"""One function whose code object is made anew for every batch, as exec'd
source and functions that cloudpickle sends by value (joblib's loky) are.

    t_newcode.py BATCHES CALLS

cProfile keeps one entry per code object and, writing pstats, lets the
last one of a (file, line, name) overwrite the others; the right count is
BATCHES * CALLS by construction."""
import json
import sys

SRC = "def anew(i):\n    return i * i\n"


def main():
    batches, calls = int(sys.argv[1]), int(sys.argv[2])
    total = 0
    for _ in range(batches):
        ns = {}
        exec(compile(SRC, "<anew>", "exec"), ns)
        for i in range(calls):
            total += ns["anew"](i)
    print("MPPTEST_TRUTH " + json.dumps({"anew": batches * calls}))
    print(total)


main()
