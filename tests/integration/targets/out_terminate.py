"""Pool.terminate() while every worker is inside one long C call (issue 12,
item 3): prints how long terminate() took."""
import multiprocessing
import sys
import time


def long_c_call(_):
    return sum(range(300_000_000))


def main():
    with multiprocessing.get_context("fork").Pool(2) as pool:
        pool.map_async(long_c_call, range(2))
        time.sleep(1.0)  # both workers are deep in sum() by now
        t0 = time.monotonic()
        pool.terminate()
        took = time.monotonic() - t0
    print("terminate_s %.4f" % took)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
