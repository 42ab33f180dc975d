"""Calls before_kill() N times, then kills itself with signal SIG (argv)."""
import os
import signal
import sys


def before_kill(i):
    return i * 3


def main():
    sig = int(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    for i in range(n):
        before_kill(i)
    sys.stdout.write("killing\n")
    sys.stdout.flush()
    os.kill(os.getpid(), sig)
    signal.pause()


if __name__ == "__main__":
    main()
