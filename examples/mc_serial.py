#!/usr/bin/env python3
"""Monte Carlo estimate of the first player's advantage in snakes and
ladders, serial version.  Compare with mc_parallel.py (same result):

    mpprof run -o serial-out mc_serial.py 20000
    mpprof run -o parallel-out mc_parallel.py 20000
    mpprof compare serial-out parallel-out
"""
import argparse
import sys
import time

from mc_game import simulate, summary


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("games", nargs="?", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=2024)
    a = ap.parse_args()
    t0 = time.perf_counter()
    wins, turns, games = simulate(a.seed, 0, a.games)
    print(summary(wins, turns, games))
    print("elapsed %.3f s (serial)" % (time.perf_counter() - t0), file=sys.stderr)


if __name__ == "__main__":
    main()
