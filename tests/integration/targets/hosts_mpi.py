"""An mpi4py job for test_hosts.py: rank r calls work() exactly
10 * (r + 1) times, and rank 0 checks the sum over all ranks."""
import json

from mpi4py import MPI


def work(i):
    return i + 1


def main():
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    n = 10 * (rank + 1)
    local = sum(work(i) for i in range(n))
    total = comm.allreduce(local)
    expect = sum(sum(range(1, 10 * (r + 1) + 1)) for r in range(size))
    assert total == expect, (total, expect)
    print("MPPTEST_TRUTH " + json.dumps({"rank%d" % rank: n}), flush=True)


main()
