"""Collector target: threads that get the same kernel thread id.

Linux hands out thread ids like process ids, one above the last; root can
choose the next one through /proc/sys/kernel/ns_last_pid, which is how
this target makes the kernel reuse the id of a thread that has ended (in
a long-running program this happens by itself once ids wrap).  Thread k
calls work() k + 1 times.  Prints "reused N" (threads that got the first
thread's id again; 0 when the id could not be steered) and "threads M"."""
import sys
import threading

ids = []


def work():
    return 1


def body(k):
    ids.append(threading.get_native_id())
    for _ in range(k + 1):
        work()


def steer(tid):
    try:
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(tid - 1))
        return True
    except OSError:
        return False


def main():
    want = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    k = 0
    t = threading.Thread(target=body, args=(k,))
    t.start()
    t.join()
    first = ids[0]
    reused = 0
    # Another process may take the id first; try a bounded number of times.
    for _ in range(50):
        if reused >= want or not steer(first):
            break
        k += 1
        t = threading.Thread(target=body, args=(k,))
        t.start()
        t.join()
        reused += ids[-1] == first
    print("reused", reused)
    print("threads", k + 1)


if __name__ == "__main__":
    main()
