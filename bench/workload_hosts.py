"""One host's share of bench/hosts.py: a Pool of P workers (argv[1]) in
which hot() is called exactly N times (argv[2]) in total, in tasks of
1000 calls.  Prints the count it made, for the check."""
import multiprocessing as mp
import sys


def hot(x):
    return x + 1


def task(n):
    s = 0
    for i in range(n):
        s += hot(i)
    return n


if __name__ == "__main__":
    workers, calls = int(sys.argv[1]), int(sys.argv[2])
    chunks = [1000] * (calls // 1000) + ([calls % 1000] if calls % 1000 else [])
    with mp.Pool(workers) as pool:
        done = sum(pool.map(task, chunks, chunksize=1))
    assert done == calls
    print(done)
