"""Start-up scenarios for test_categories.py.

    python cat_startup.py spawnpool   a spawn Pool(2) whose two workers each
                                      take one task (a barrier makes sure)
    python cat_startup.py sleep S     sleeps S seconds in the main module
    python cat_startup.py osfork S    a plain os.fork() child sleeps S seconds
    python cat_startup.py bigfork N MB
                                      N plain os.fork() children of a
                                      process holding MB of touched memory
    python cat_startup.py cut         two spawn children that never get past
                                      start-up: one is terminated while it
                                      imports the main module, the other
                                      leaves with os._exit there

Prints MPPTEST_TRUTH {"main": pid, "child": pid (osfork),
"terminated"/"exited": pids (cut), "fork_s": the forks' time as the
parent measured it (bigfork)}."""
import json
import multiprocessing as mp
import os
import sys
import time


BARRIER = None
CUT = os.environ.get("CAT_STARTUP_CUT")


def at_import():
    """Called by the module's import: in the parent, and again in each spawn
    child, which imports the main module (as __mp_main__) before run()."""
    return __name__


at_import()

if __name__ == "__mp_main__" and CUT == "term":
    time.sleep(60)   # the parent terminates it long before
elif __name__ == "__mp_main__" and CUT == "exit":
    time.sleep(0.3)
    os._exit(0)


def init(barrier):
    global BARRIER
    BARRIER = barrier


def work(x):
    # Blocks until the other worker has a task too, so neither worker is
    # terminated still starting up, with nothing done.
    BARRIER.wait(60)
    return x * x


def never():
    raise AssertionError("start-up was to be cut short")


def cut():
    ctx = mp.get_context("spawn")
    procs = {}
    for kind in ("term", "exit"):
        os.environ["CAT_STARTUP_CUT"] = kind
        procs[kind] = ctx.Process(target=never)
        procs[kind].start()
    del os.environ["CAT_STARTUP_CUT"]
    procs["exit"].join(30)
    time.sleep(0.3)
    procs["term"].terminate()
    procs["term"].join(30)
    assert procs["exit"].exitcode == 0, procs["exit"].exitcode
    assert procs["term"].exitcode == -15, procs["term"].exitcode
    return {"terminated": procs["term"].pid, "exited": procs["exit"].pid}


def fork_many(n, mb):
    """Forks n children of a process holding mb MB of touched memory, each
    leaving at once; returns the seconds the parent spent in os.fork()."""
    ballast = bytearray(mb << 20)
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1
    spent = 0.0
    for _ in range(n):
        t0 = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        spent += time.perf_counter() - t0
        os.waitpid(pid, 0)
    return spent


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
    elif mode == "bigfork":
        truth["fork_s"] = fork_many(int(sys.argv[2]), int(sys.argv[3]))
    elif mode == "cut":
        truth.update(cut())
    print("MPPTEST_TRUTH " + json.dumps(truth))


if __name__ == "__main__":
    main()
