"""Collector target: work done in threads other than the main one."""
import os
import threading


def work(n):
    return sum(step(i) for i in range(n))


def step(i):
    return i * 2


def worker(n, out):
    out.append(work(n))


def main():
    out = []
    threads = [threading.Thread(target=worker, args=(100 * (i + 1), out),
                                name="worker-%d" % i)
               for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    work(10)
    print(sorted(out))


if __name__ == "__main__":
    main()
    _out = os.environ.get("MPPROF_SNAPSHOT_OUT")
    if _out:
        import marshal
        import mpprof._collector
        with open(_out, "wb") as _f:
            marshal.dump(mpprof._collector.snapshot(), _f)
