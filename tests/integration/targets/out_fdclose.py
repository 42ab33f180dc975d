"""Fork, close every descriptor one by one with os.close, then either exec
a Python that prints or go on working (issue 12, item 2; loky's pattern
without joblib).

    out_fdclose.py exec|continue N
"""
import os
import sys


def closed_work(i):
    return i - 1


def close_all():
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2:
            try:
                os.close(fd)
            except OSError:
                pass


def main():
    mode, n = sys.argv[1], int(sys.argv[2])
    pid = os.fork()
    if pid == 0:
        close_all()
        if mode == "exec":
            os.execve(sys.executable,
                      [sys.executable, "-c",
                       "import sys; sys.path.insert(0, %r); import out_fdclose;"
                       " [out_fdclose.closed_work(i) for i in range(%d)];"
                       " print('child ok')" % (os.path.dirname(__file__), n)],
                      dict(os.environ))
        for i in range(n):
            closed_work(i)
        print("child ok")
        sys.stdout.flush()
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    print("child status", status)


if __name__ == "__main__":
    main()
