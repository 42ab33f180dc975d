"""Collector target: a known call tree for exact times under the test clock.

With MPPROF_TEST_CLOCK=1 every clock read advances 1000 ns, one read per
event, so each function's tottime and cumtime follow from the event order.
"""
import os


def leaf():
    pass


def mid():
    leaf()
    leaf()


def rec(n):
    if n > 0:
        rec(n - 1)


def top():
    mid()
    leaf()
    rec(2)


if __name__ == "__main__":
    top()
    _out = os.environ.get("MPPROF_SNAPSHOT_OUT")
    if _out:
        import marshal
        import mpprof._collector
        with open(_out, "wb") as _f:
            marshal.dump(mpprof._collector.snapshot(), _f)
