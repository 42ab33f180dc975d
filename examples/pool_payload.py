#!/usr/bin/env python3
"""A Pool whose tasks carry large payloads, so moving the data (pickling in
the parent's task-handler thread, unpickling in the workers, and the same
again for the results) costs more than the work itself.

    mpprof run pool_payload.py [TASKS] [--mb MB] [--workers W]

Each task is a dict with a binary blob of MB megabytes and a list of rows
(tuples) of about the same pickled size; the worker checksums the blob and
sends the rows back reversed.  A plain profiler shows almost nothing: the
pickling happens in background threads and in the workers."""
import argparse
import multiprocessing
import os
import random
import sys
import time
import zlib


def make_rows(mb, seed):
    rng = random.Random(seed)
    # ~40 bytes per pickled row
    n = int(mb * 1024 * 1024 / 40)
    return [(i, rng.random(), "r%d" % (i % 1000)) for i in range(n)]


def handle(task):
    crc = zlib.crc32(task["blob"])
    rows = task["rows"]
    checksum = (crc + len(rows) + task["id"]) & 0xFFFFFFFF
    return {"id": task["id"], "checksum": checksum, "rows": rows[::-1]}


def tasks(count, blob, rows):
    for i in range(count):
        yield {"id": i, "blob": blob, "rows": rows}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tasks", nargs="?", type=int, default=24)
    ap.add_argument("--mb", type=float, default=2.0,
                    help="megabytes of blob, and again of rows, per task")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    a = ap.parse_args()
    blob = random.Random(1).randbytes(int(a.mb * 1024 * 1024))
    rows = make_rows(a.mb, 2)
    t0 = time.perf_counter()
    total = 0
    with multiprocessing.Pool(a.workers) as pool:
        for res in pool.imap(handle, tasks(a.tasks, blob, rows)):
            assert len(res["rows"]) == len(rows)
            total = (total + res["checksum"]) & 0xFFFFFFFF
    print("tasks=%d payload=%.1fMB checksum=%08x" % (a.tasks, 2 * a.mb, total))
    print("elapsed %.3f s (%d workers)" % (time.perf_counter() - t0, a.workers),
          file=sys.stderr)


if __name__ == "__main__":
    main()
