"""Collector target: a multiprocessing Pool, ended by terminate() (the
`with` statement) or by close() and join()."""
import multiprocessing
import sys


def square(x):
    return x * x


if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1])
    if sys.argv[2] == "terminate":
        with ctx.Pool(3) as pool:
            print(sum(pool.map(square, range(100))))
    else:
        pool = ctx.Pool(3)
        total = sum(pool.map(square, range(100)))
        pool.close()
        pool.join()
        print(total)
