"""Many short spawn-started processes, for test_verdict.py: each starts a
fresh interpreter (and imports this module again) to do a few
milliseconds of work, so the right verdict is start-up.

    python verdict_spawn_many.py NPROCS WORK_S

Starts NPROCS spawn Processes at once, each spinning for WORK_S seconds of
CPU time, and joins them.  Prints MPPTEST_TRUTH {"main": pid, "children":
[pids]}."""
import json
import multiprocessing as mp
import os
import sys
import time


def spin(seconds):
    c0 = time.thread_time()
    s = 0
    while time.thread_time() - c0 < seconds:
        for i in range(2000):
            s += i * i


def main():
    nprocs, work_s = int(sys.argv[1]), float(sys.argv[2])
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=spin, args=(work_s,)) for _ in range(nprocs)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    print("MPPTEST_TRUTH " + json.dumps({
        "main": os.getpid(), "children": [p.pid for p in procs]}),
        flush=True)


if __name__ == "__main__":
    main()
