"""A job for test_hosts.py's merge test, copied as job.py beside
hosts_script_help.py into a different directory per host: work() and the
helper's square() are called exactly N times (argv[1]) across the Pool's
workers; the truth line says so."""
import json
import multiprocessing as mp
import sys

import hosts_script_help


def work(x):
    return hosts_script_help.square(x)


if __name__ == "__main__":
    n = int(sys.argv[1])
    with mp.Pool(2) as pool:
        total = sum(pool.map(work, range(n), chunksize=3))
    assert total == sum(x * x for x in range(n))
    print("MPPTEST_TRUTH " + json.dumps({"work": n, "square": n}))
