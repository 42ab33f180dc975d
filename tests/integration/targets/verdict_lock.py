"""Workers that work inside one shared lock, for test_verdict.py: each of
WORKERS processes takes the same multiprocessing.Lock ROUNDS times and
spins HOLD seconds of wall-clock time while it holds it, doing nothing
outside it.  Only one of them works at a time, so every worker waits for
the lock about (WORKERS - 1) / WORKERS of its life: the right verdict is
lock wait, whatever the number of CPUs.

    python verdict_lock.py METHOD WORKERS ROUNDS HOLD

Prints MPPTEST_TRUTH {"main": pid, "workers": {pid: seconds it waited in
acquire, timed around each call}, "held_s": seconds held in all}."""
import json
import multiprocessing as mp
import os
import sys
import time


def spin(seconds):
    t0 = time.perf_counter()
    s = 0
    while time.perf_counter() - t0 < seconds:
        for i in range(2000):
            s += i * i
    return s


def worker(lock, rounds, hold, results):
    waited = 0.0
    for _ in range(rounds):
        t0 = time.perf_counter()
        lock.acquire()
        waited += time.perf_counter() - t0
        try:
            spin(hold)
        finally:
            lock.release()
    results.put((os.getpid(), waited))


def main():
    method, workers = sys.argv[1], int(sys.argv[2])
    rounds, hold = int(sys.argv[3]), float(sys.argv[4])
    ctx = mp.get_context(method)
    lock, results = ctx.Lock(), ctx.SimpleQueue()
    procs = [ctx.Process(target=worker, args=(lock, rounds, hold, results))
             for _ in range(workers)]
    for p in procs:
        p.start()
    waits = dict(results.get() for _ in procs)
    for p in procs:
        p.join()
    print("MPPTEST_TRUTH " + json.dumps({
        "main": os.getpid(), "workers": {str(k): v for k, v in waits.items()},
        "held_s": workers * rounds * hold}), flush=True)


if __name__ == "__main__":
    main()
