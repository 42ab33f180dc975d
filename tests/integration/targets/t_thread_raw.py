"""Threads started with _thread.start_new_thread, which threading never
hears of: on 3.12+ sys.monitoring sees them (cProfile too), so mpprof
must count their calls.  Prints what ran as MPPTEST_TRUTH, and whether
any of those threads became known to threading (profiling must not make
a _DummyThread of them)."""
import _thread
import json
import sys
import threading

raw_calls = []
known = []


def raw_leaf(i):
    raw_calls.append(1)
    return i + 1


def raw_main(n, done):
    total = 0
    for i in range(n):
        total += raw_leaf(i)
    known.append(_thread.get_ident() in threading._active)
    done.release()


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    locks = []
    for k in range(3):
        done = _thread.allocate_lock()
        done.acquire()
        locks.append(done)
        _thread.start_new_thread(raw_main, (n + k, done))
    for done in locks:
        done.acquire()
    print("known to threading", any(known), len(threading.enumerate()))
    truth = {"thread_only": {"raw_leaf": len(raw_calls), "raw_main": 3}}
    print("MPPTEST_TRUTH " + json.dumps(truth))


if __name__ == "__main__":
    main()
