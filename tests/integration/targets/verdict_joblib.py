"""A joblib job whose task arguments take a known time to pickle, for
test_verdict.py: joblib (through loky and cloudpickle) pickles them with
its own pickler, a subclass of the C pickler that overrides dump.

    python verdict_joblib.py TASKS DELAY

Each of TASKS tasks gets an object whose __reduce__ sleeps DELAY seconds,
so the parent spends TASKS * DELAY seconds pickling them, whatever the
batching (each object is reduced once, in whichever batch it goes);
rebuilding one costs nothing.  Prints MPPTEST_TRUTH {"main": pid,
"tasks": TASKS, "delay": DELAY, "workers": [pids that ran tasks]}."""
import json
import os
import sys
import time

from joblib import Parallel, delayed


class Slow:
    def __init__(self, delay):
        self.delay = delay

    def __reduce__(self):
        time.sleep(self.delay)
        return (Slow, (self.delay,))


def work(obj):
    return os.getpid()


def main():
    tasks, delay = int(sys.argv[1]), float(sys.argv[2])
    pids = Parallel(n_jobs=2)(delayed(work)(Slow(delay))
                              for _ in range(tasks))
    print("MPPTEST_TRUTH " + json.dumps({
        "main": os.getpid(), "tasks": tasks, "delay": delay,
        "workers": sorted(set(pids))}), flush=True)


if __name__ == "__main__":
    main()
