"""Start-method behaviour that changed across Python versions, for
test_versions.py.

    python ver_behaviour.py default N     a Pool(2) of the interpreter's
                                          default start method (fork up to
                                          3.13, forkserver from 3.14 on)
                                          maps work over N items
    python ver_behaviour.py atexit K FILE a fork-started Process registers
                                          an exit handler that calls tail()
                                          K times; Python 3.13 and later
                                          run it when the child ends

Prints MPPTEST_TRUTH {"method", "workers" (pids), "tail_calls" (atexit:
what the handler recorded it ran, 0 when it did not run)}."""
import atexit
import json
import multiprocessing as mp
import os
import sys


def work(x):
    return os.getpid()


def tail(i):
    return i


def on_exit(k, path):
    n = 0
    for i in range(k):
        tail(i)
        n += 1
    with open(path, "w") as f:
        f.write(str(n))
    print("exit handler ran in the child", flush=True)


def child(k, path):
    atexit.register(on_exit, k, path)


def main():
    mode = sys.argv[1]
    truth = {"method": mp.get_start_method()}
    if mode == "default":
        n = int(sys.argv[2])
        with mp.Pool(2) as pool:
            pids = pool.map(work, range(n), chunksize=1)
        truth["workers"] = sorted(set(pids))
    elif mode == "atexit":
        k, path = int(sys.argv[2]), sys.argv[3]
        p = mp.get_context("fork").Process(target=child, args=(k, path))
        p.start()
        p.join()
        assert p.exitcode == 0, p.exitcode
        truth["workers"] = [p.pid]
        try:
            with open(path) as f:
                truth["tail_calls"] = int(f.read())
        except FileNotFoundError:
            truth["tail_calls"] = 0
    print("MPPTEST_TRUTH " + json.dumps(truth))


if __name__ == "__main__":
    main()
