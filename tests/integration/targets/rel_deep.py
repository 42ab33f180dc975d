"""Recursion to DEPTH (default 15000) under a recursion limit of 20000,
then one RecursionError caught at the limit."""
import sys


def down(n):
    return 0 if n == 0 else 1 + down(n - 1)


def forever(n):
    return forever(n + 1)


def main():
    depth = int(sys.argv[1]) if len(sys.argv) > 1 else 15000
    sys.setrecursionlimit(20000)
    print("depth", down(depth))
    try:
        forever(0)
    except RecursionError as exc:
        print("caught", type(exc).__name__)


if __name__ == "__main__":
    main()
