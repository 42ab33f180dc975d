"""Calls tick() N times, prints READY, then sleeps inside sleeper() until a
signal arrives (at most 60 s)."""
import sys
import time


def tick(i):
    return i


def sleeper():
    time.sleep(60)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    for i in range(n):
        tick(i)
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    sleeper()


if __name__ == "__main__":
    main()
