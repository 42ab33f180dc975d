"""CPU-bound: many small non-recursive calls plus some recursion.  Prints its
own wall time (perf_counter from the first line of the module to the end)
and the number of calls it made, as MPPTEST_TRUTH."""
import time
T0 = time.perf_counter()

import json  # noqa: E402
import sys  # noqa: E402


def add(a, b):
    return a + b


def mul(a, b):
    return a * b


def poly(x):
    return add(mul(x, x), add(mul(3, x), 7))


def inner_loop(n):
    s = 0
    for i in range(n):
        s = add(s, poly(i) % 97)
    return s


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def outer(rounds, n):
    s = 0
    for _ in range(rounds):
        s += inner_loop(n)
        s += fib(14)
    return s


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    print("result", outer(rounds, 2000))
    wall = time.perf_counter() - T0
    print("MPPTEST_TRUTH " + json.dumps({"wall_s": wall}))


if __name__ == "__main__":
    main()
