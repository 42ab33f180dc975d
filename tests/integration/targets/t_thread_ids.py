"""Target: threads one after the other, each printing its kernel thread id
and name, so a test can find each of them in `report --json` by the id
`ps` and /proc would show."""
import os
import threading


def work(n):
    return sum(range(n))


def body():
    work(1000)
    print("thread", threading.get_native_id(), threading.current_thread().name)


def main():
    print("main", os.getpid())
    for k in range(4):
        t = threading.Thread(target=body, name="worker-%d" % k)
        t.start()
        t.join()


if __name__ == "__main__":
    main()
