"""Start-up scenarios for test_categories.py.

    python cat_startup.py spawnpool   a spawn Pool(2) whose two workers each
                                      take one task (a barrier makes sure)
    python cat_startup.py sleep S     sleeps S seconds in the main module
    python cat_startup.py osfork S    a plain os.fork() child sleeps S seconds

Prints MPPTEST_TRUTH {"main": pid, "child": pid (osfork)}."""
import json
import multiprocessing as mp
import os
import sys
import time


BARRIER = None


def init(barrier):
    global BARRIER
    BARRIER = barrier


def work(x):
    # Blocks until the other worker has a task too, so neither worker is
    # terminated still starting up, with nothing done.
    BARRIER.wait(60)
    return x * x


def main():
    mode = sys.argv[1]
    truth = {"main": os.getpid()}
    if mode == "spawnpool":
        ctx = mp.get_context("spawn")
        barrier = ctx.Barrier(2)
        with ctx.Pool(2, initializer=init, initargs=(barrier,)) as pool:
            assert pool.map(work, range(2), chunksize=1) == [0, 1]
    elif mode == "sleep":
        time.sleep(float(sys.argv[2]))
    elif mode == "osfork":
        pid = os.fork()
        if pid == 0:
            time.sleep(float(sys.argv[2]))
            os._exit(0)
        os.waitpid(pid, 0)
        truth["child"] = pid
    print("MPPTEST_TRUTH " + json.dumps(truth))


if __name__ == "__main__":
    main()
