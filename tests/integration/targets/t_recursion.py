"""Recursion: direct (linear and branching) and mutual."""
import sys


def fact(n):
    return 1 if n <= 1 else n * fact(n - 1)


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def is_even(n):
    return True if n == 0 else is_odd(n - 1)


def is_odd(n):
    return False if n == 0 else is_even(n - 1)


def ackermann(m, n):
    if m == 0:
        return n + 1
    if n == 0:
        return ackermann(m - 1, 1)
    return ackermann(m - 1, ackermann(m, n - 1))


def driver(rounds):
    total = 0
    for i in range(rounds):
        total += fact(20 + i % 7)
        total += fib(12 + i % 3)
        total += is_even(30 + i) + is_odd(17 + i)
    total += ackermann(2, 3)
    return total


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    print("result", driver(rounds) % 1000003)


if __name__ == "__main__":
    main()
