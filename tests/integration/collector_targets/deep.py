"""Collector target: recursion far deeper than any fixed-size stack."""
import os
import sys
def down(n):  # noqa: E302 -- the test expects this function on line 4
    return 0 if n == 0 else 1 + down(n - 1)


if __name__ == "__main__":
    depth = int(sys.argv[1])
    sys.setrecursionlimit(depth + 100)
    down(depth)
    _out = os.environ.get("MPPROF_SNAPSHOT_OUT")
    if _out:
        import marshal
        import mpprof._collector
        with open(_out, "wb") as _f:
            marshal.dump(mpprof._collector.snapshot(), _f)
