"""Counts the SIGINT and SIGTERM it receives: prints READY, calls spin()
until the first one arrives, waits WAIT seconds (default 1) for any
duplicate, prints the counts and exits 0."""
import os
import signal
import sys
import time

counts = {signal.SIGINT: 0, signal.SIGTERM: 0}


def on_signal(signum, frame):
    counts[signum] += 1


def spin(i):
    return i + 1


def main():
    wait = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print("READY %d" % os.getpid(), flush=True)
    deadline = time.monotonic() + 60
    i = 0
    while not any(counts.values()) and time.monotonic() < deadline:
        i = spin(i)
    end = time.monotonic() + wait
    while time.monotonic() < end:
        time.sleep(0.05)
    print("SIGINT %d SIGTERM %d" % (counts[signal.SIGINT],
                                    counts[signal.SIGTERM]), flush=True)


if __name__ == "__main__":
    main()
