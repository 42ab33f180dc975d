"""A Pool whose tasks carry 8 MiB payloads, for test_verdict.py: moving the
data (pickling in the parent, unpickling in the workers) is the cost, the
work on it is nothing; the right verdict is serialisation.

    python verdict_payload.py METHOD TASKS

Each task is about 8 MiB of pickled rows (tuples, so pickling them is
real work, not a memory copy); the worker returns only their number.
Prints MPPTEST_TRUTH {"main": pid, "workers": [pids]}."""
import json
import multiprocessing as mp
import os
import sys

ROWS = 8 * 1024 * 1024 // 40  # ~40 bytes per pickled row


def count(task):
    return os.getpid(), len(task)


def main():
    method, tasks = sys.argv[1], int(sys.argv[2])
    rows = [(i, i * 0.5, "r%d" % (i % 1000)) for i in range(ROWS)]
    ctx = mp.get_context(method)
    with ctx.Pool(2) as pool:
        got = pool.map(count, [rows] * tasks, chunksize=1)
    assert all(n == ROWS for _, n in got)
    print("MPPTEST_TRUTH " + json.dumps({
        "main": os.getpid(),
        "workers": sorted({pid for pid, _ in got})}), flush=True)


if __name__ == "__main__":
    main()
