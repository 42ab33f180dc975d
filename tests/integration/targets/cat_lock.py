"""Lock-wait ground truth for test_categories.py.

    python cat_lock.py METHOD HOLD_S

A holder process takes a multiprocessing.Lock and says so through an Event;
a waiter process polls that Event (with short sleeps, not a blocking wait),
says through a second Event that it is about to block, and blocks on the
lock.  Only when the holder sees that (polling too) does it keep the lock
HOLD_S seconds more, so the waiter waits HOLD_S however slowly either
process started (spawn under a sanitizer is slow).  The main process prints MPPTEST_TRUTH {"holder": pid,
"waiter": pid, "waited_s": ...}, the waiter's blocking time as it measured
it."""
import json
import multiprocessing as mp
import os
import sys
import time


def holder(lock, held, ready, hold_s, q):
    q.put(("holder", os.getpid(), 0.0))
    with lock:
        held.set()
        while not ready.is_set():
            time.sleep(0.002)
        time.sleep(hold_s)


def waiter(lock, held, ready, q):
    while not held.is_set():
        time.sleep(0.005)
    ready.set()
    t0 = time.perf_counter()
    with lock:
        waited = time.perf_counter() - t0
    q.put(("waiter", os.getpid(), waited))


def main():
    method, hold_s = sys.argv[1], float(sys.argv[2])
    ctx = mp.get_context(method)
    lock = ctx.Lock()
    held = ctx.Event()
    ready = ctx.Event()
    q = ctx.SimpleQueue()
    procs = [ctx.Process(target=holder, args=(lock, held, ready, hold_s, q)),
             ctx.Process(target=waiter, args=(lock, held, ready, q))]
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
