"""Queue-wait ground truth for test_categories.py.

    python cat_queue.py METHOD DELAY_S

A consumer process blocks in get() on an empty multiprocessing.Queue; the
main process puts an item DELAY_S seconds after the consumer said it is
about to block.  Prints MPPTEST_TRUTH {"consumer": pid, "blocked_s": ...},
the consumer's time in get() as it measured it."""
import json
import multiprocessing as mp
import os
import sys
import time


def consumer(q, ready, out):
    ready.set()
    t0 = time.perf_counter()
    item = q.get()
    blocked = time.perf_counter() - t0
    out.put((os.getpid(), blocked, item))


def main():
    method, delay = sys.argv[1], float(sys.argv[2])
    ctx = mp.get_context(method)
    q = ctx.Queue()
    ready = ctx.Event()
    out = ctx.SimpleQueue()
    p = ctx.Process(target=consumer, args=(q, ready, out))
    p.start()
    ready.wait()
    time.sleep(delay)
    q.put("item")
    pid, blocked, item = out.get()
    p.join()
    assert item == "item"
    print("MPPTEST_TRUTH " + json.dumps({"consumer": pid,
                                         "blocked_s": blocked}))


if __name__ == "__main__":
    main()
