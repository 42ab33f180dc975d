"""A Pool job for test_hosts.py: work() is called exactly N times (argv[1])
across the workers; the truth line says so."""
import json
import multiprocessing as mp
import sys


def work(x):
    return x * x


if __name__ == "__main__":
    n = int(sys.argv[1])
    with mp.Pool(2) as pool:
        total = sum(pool.map(work, range(n), chunksize=3))
    assert total == sum(x * x for x in range(n))
    print("MPPTEST_TRUTH " + json.dumps({"work": n}))
