"""Collector target: a mix of call shapes whose counts must match cProfile.

Run directly, under `python -m cProfile`, or under the collector; with
MPPROF_SNAPSHOT_OUT set it writes the collector's snapshot there (marshal).
Only module-level code differs between those runs, never a function here.
"""
import functools
import os
import pickle
import sys
import threading
import time


def fact(n):
    return 1 if n <= 1 else n * fact(n - 1)


def is_even(n):
    return True if n == 0 else is_odd(n - 1)


def is_odd(n):
    return False if n == 0 else is_even(n - 1)


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def countdown(n):
    while n > 0:
        yield n
        n -= 1


def squares(n):
    yield from (i * i for i in countdown(n))


def accumulator():
    total = 0
    while True:
        value = yield total
        if value is None:
            return total
        total += value


def fail(depth):
    if depth == 0:
        raise KeyError(depth)
    return fail(depth - 1)


def catch(depth):
    try:
        fail(depth)
    except KeyError:
        return "caught"
    finally:
        len("finally")


class Shape:
    sides = 0

    def __init__(self, size):
        self.size = size

    def perimeter(self):
        return self.sides * self.size

    @property
    def name(self):
        return type(self).__name__.lower()

    @staticmethod
    def unit():
        return Square(1)

    @classmethod
    def make(cls, size):
        return cls(size)

    def __repr__(self):
        return "%s(%d)" % (self.name, self.size)


class Square(Shape):
    sides = 4

    def perimeter(self):
        return super().perimeter()


def memo_key(x):
    return -x


@functools.lru_cache(maxsize=None)
def cached(n):
    return n * 2


def traced(func):
    @functools.wraps(func)
    def wrapper(*args):
        return func(*args)
    return wrapper


@traced
def decorated(x):
    return x + 1


class Ctx:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def deep(n):
    return 0 if n == 0 else 1 + deep(n - 1)


def main():
    for _ in range(20):
        fact(12)
    is_even(40)
    fib(15)
    list(countdown(10))
    sum(squares(10))
    acc = accumulator()
    next(acc)
    for i in range(5):
        acc.send(i)
    try:
        acc.send(None)
    except StopIteration:
        pass
    gen = countdown(100)
    next(gen)
    gen.close()
    for d in range(5):
        catch(d)
    # One comprehension per line: cProfile's pstats keeps only one of two
    # code objects with the same (file, line, name), the collector sums.
    shapes = [Shape.make(i) for i in range(3)]
    shapes += [Square(i) for i in range(4)]
    shapes.append(Shape.unit())
    sorted(shapes, key=lambda s: s.perimeter())
    sorted(range(50), key=memo_key)
    [repr(s) for s in shapes]
    for i in range(30):
        cached(i % 7)
        decorated(i)
        with Ctx():
            len(str(i))
    list(map(abs, range(-5, 5)))
    "".join(str(i) for i in range(10))
    sys.setrecursionlimit(30000)
    deep(3000)
    lock = threading.Lock()
    for _ in range(3):
        with lock:
            time.sleep(0)
        lock.acquire()
        lock.release()
    pickle.loads(pickle.dumps([s.size for s in shapes]))


if __name__ == "__main__":
    main()
    _out = os.environ.get("MPPROF_SNAPSHOT_OUT")
    if _out:
        import marshal
        import mpprof._collector
        with open(_out, "wb") as _f:
            marshal.dump(mpprof._collector.snapshot(), _f)
