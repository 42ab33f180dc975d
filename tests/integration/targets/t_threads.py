"""Functions that run only in worker threads (cProfile misses them) plus
main-thread work.  Prints the thread-only call counts it observed as
MPPTEST_TRUTH so the test compares against what actually ran."""
import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

leaf_calls = []
branch_calls = []
pool_calls = []


def thread_leaf(i):
    leaf_calls.append(1)
    return i * 2


def thread_branch(n):
    branch_calls.append(1)
    total = 0
    for i in range(n):
        total += thread_leaf(i)
    return total


def thread_main(n, out):
    out.append(thread_branch(n))


def pool_task(x):
    pool_calls.append(1)
    return thread_leaf(x) + 1


def main_only(n):
    return sum(range(n))


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    out = []
    threads = [threading.Thread(target=thread_main, args=(n + i, out))
               for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with ThreadPoolExecutor(max_workers=2) as ex:
        results = list(ex.map(pool_task, range(n)))
    total = sum(out) + sum(results)
    for i in range(n):
        total += main_only(i)
    print("result", total)
    truth = {"thread_only": {
        "thread_leaf": len(leaf_calls),
        "thread_branch": len(branch_calls),
        "thread_main": len(threads),
        "pool_task": len(pool_calls),
    }}
    print("MPPTEST_TRUTH " + json.dumps(truth))


if __name__ == "__main__":
    main()
