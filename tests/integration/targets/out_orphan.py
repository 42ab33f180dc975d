"""A Python child started just before its parent exits (issue 12, item 4).

    out_orphan.py N     the parent starts the child and exits at once;
                        the child calls orphan_work() N times.
"""
import subprocess
import sys
import time


def orphan_work(i):
    return i * 2


def main():
    n = int(sys.argv[1])
    if len(sys.argv) > 2 and sys.argv[2] == "child":
        # Long enough that the parent is surely gone before any profiled
        # call: the child is an orphan by then.
        time.sleep(0.3)
        for i in range(n):
            orphan_work(i)
        return
    subprocess.Popen([sys.executable, __file__, str(n), "child"])


main()
