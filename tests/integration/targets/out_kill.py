"""Two workers that end normally and one that SIGKILLs itself inside an
open frame (issue 12, item 1).

    out_kill.py SURVIVOR_CALLS CRASHER_CALLS

Prints MPPTEST_TRUTH lines: the crasher's monotonic time when it entered
crash() and the parent's once the crasher was seen dead, so a test can
check the time the profile gives the frames the kill left open.
"""
import json
import multiprocessing
import os
import signal
import sys
import time


def unit(i):
    return i + 1


def survive(n):
    for i in range(n):
        unit(i)


def crash(n, q):
    entered = time.monotonic()
    q.put(entered)
    for i in range(n):
        unit(i)
    # At least half a second inside this frame, however fast the calls
    # above were (3.12+ runs them in a fraction of that).
    while time.monotonic() - entered < 0.5:
        pass
    os.kill(os.getpid(), signal.SIGKILL)


def main():
    survivor_calls, crasher_calls = int(sys.argv[1]), int(sys.argv[2])
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=survive, args=(survivor_calls,))
             for _ in range(2)]
    crasher = ctx.Process(target=crash, args=(crasher_calls, q))
    for p in procs + [crasher]:
        p.start()
    started = q.get()
    crasher.join()
    dead = time.monotonic()
    for p in procs:
        p.join()
    print("MPPTEST_TRUTH " + json.dumps({
        "crash_entered": started, "crash_dead": dead,
        "crasher_pid": crasher.pid, "crasher_exitcode": crasher.exitcode}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
