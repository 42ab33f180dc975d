"""A nested pool, for test_verdict.py: the main process runs a Pool of one
worker (made non-daemonic, so that it may have children), and that
worker, the middle process, runs a Pool of CPU-bound leaves and waits in
Pool.map for them.  The middle process is idle while the leaves compute,
so the right verdict is compute.

    python verdict_nested.py LEAVES TASKS SECONDS

The middle process maps TASKS tasks of SECONDS of CPU time each over a
fork Pool of LEAVES workers.  Prints MPPTEST_TRUTH {"main": pid,
"middle": pid, "leaves": [pids that ran tasks]}."""
import json
import multiprocessing as mp
import multiprocessing.pool
import os
import sys
import time

FORK = mp.get_context("fork")


class NoDaemonProcess(FORK.Process):
    """A Pool worker that may start processes of its own."""

    @property
    def daemon(self):
        return False

    @daemon.setter
    def daemon(self, value):
        pass


class NoDaemonContext(type(FORK)):
    Process = NoDaemonProcess


def spin(seconds):
    c0 = time.thread_time()
    s = 0
    while time.thread_time() - c0 < seconds:
        for i in range(20000):
            s += i * i
    return os.getpid()


def middle(leaves, tasks, seconds):
    with FORK.Pool(leaves) as pool:
        pids = pool.map(spin, [seconds] * tasks, chunksize=1)
    return os.getpid(), sorted(set(pids))


def main():
    leaves, tasks, seconds = (int(sys.argv[1]), int(sys.argv[2]),
                              float(sys.argv[3]))
    with multiprocessing.pool.Pool(1, context=NoDaemonContext()) as pool:
        mid, pids = pool.apply(middle, (leaves, tasks, seconds))
    print("MPPTEST_TRUTH " + json.dumps({
        "main": os.getpid(), "middle": mid, "leaves": pids}), flush=True)


if __name__ == "__main__":
    main()
