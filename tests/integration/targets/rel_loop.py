"""Prints READY with its pid and MPPROF_ENDPOINT, then calls spin() in a
loop for SECONDS (default 30), prints DONE with the count and exits 0.
An interrupt ends it as it ends any Python program."""
import os
import sys
import time


def spin(i):
    return i + 1


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
    endpoint = os.environ.get("MPPROF_ENDPOINT", "-")
    print("READY %d %s" % (os.getpid(), endpoint), flush=True)
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        i = spin(i)
    print("DONE %d" % i, flush=True)


if __name__ == "__main__":
    main()
