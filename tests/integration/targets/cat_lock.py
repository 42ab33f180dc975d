"""Lock-wait ground truth for test_categories.py.

    python cat_lock.py METHOD HOLD_S

A holder process takes a multiprocessing.Lock, says so through an Event
and keeps the lock HOLD_S seconds; a waiter process polls that Event (with
short sleeps, not a blocking wait) and then blocks on the lock until the
holder lets go.  The main process prints MPPTEST_TRUTH {"holder": pid,
"waiter": pid, "waited_s": ...}, the waiter's blocking time as it measured
it."""
import json
import multiprocessing as mp
import os
import sys
import time


def holder(lock, held, hold_s, q):
    q.put(("holder", os.getpid(), 0.0))
    with lock:
        held.set()
        time.sleep(hold_s)


def waiter(lock, held, q):
    while not held.is_set():
        time.sleep(0.005)
    t0 = time.perf_counter()
    with lock:
        waited = time.perf_counter() - t0
    q.put(("waiter", os.getpid(), waited))


def main():
    method, hold_s = sys.argv[1], float(sys.argv[2])
    ctx = mp.get_context(method)
    lock = ctx.Lock()
    held = ctx.Event()
    q = ctx.SimpleQueue()
    procs = [ctx.Process(target=holder, args=(lock, held, hold_s, q)),
             ctx.Process(target=waiter, args=(lock, held, q))]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    truth = {}
    for _ in procs:
        role, pid, waited = q.get()
        truth[role] = pid
        if role == "waiter":
            truth["waited_s"] = waited
    print("MPPTEST_TRUTH " + json.dumps(truth))


if __name__ == "__main__":
    main()
