"""Pickling ground truth for test_categories.py.

    python cat_pickle.py METHOD N DELAY_MS

A Pool(2) maps a trivial function over N objects whose __reduce__ sleeps
DELAY_MS: the parent's task-handler thread pickles every task, so about
N * DELAY_MS of pickling is spent there (the results are plain ints).  The
main process prints MPPTEST_TRUTH {"slept_s": ...}: the sleeps as measured
where they happened."""
import json
import multiprocessing as mp
import sys
import time

SLEPT = [0.0]
DELAY = 0.02


class Slow:
    def __reduce__(self):
        t0 = time.perf_counter()
        time.sleep(DELAY)
        SLEPT[0] += time.perf_counter() - t0
        return (Slow, ())


def work(x):
    return 1


def main():
    global DELAY
    method, n, delay_ms = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    DELAY = delay_ms / 1000.0
    ctx = mp.get_context(method)
    objs = [Slow() for _ in range(n)]
    with ctx.Pool(2) as pool:
        total = sum(pool.map(work, objs))
    assert total == n, total
    print("MPPTEST_TRUTH " + json.dumps({"slept_s": SLEPT[0], "n": n}))


if __name__ == "__main__":
    main()
