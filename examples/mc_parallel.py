#!/usr/bin/env python3
"""Monte Carlo estimate of the first player's advantage in snakes and
ladders, multiprocessing.Pool version: the same games as mc_serial.py,
split into chunks, and the same printed result for the same seed."""
import argparse
import multiprocessing
import os
import sys
import time

from mc_game import simulate_chunk, summary


def chunks(games, size, seed):
    return [(seed, start, min(start + size, games))
            for start in range(0, games, size)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("games", nargs="?", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--chunk", type=int, default=500,
                    help="games per task (default 500)")
    ap.add_argument("--start-method", choices=multiprocessing.get_all_start_methods())
    a = ap.parse_args()
    ctx = multiprocessing.get_context(a.start_method)
    t0 = time.perf_counter()
    with ctx.Pool(a.workers) as pool:
        parts = pool.map(simulate_chunk, chunks(a.games, a.chunk, a.seed))
    wins = sum(p[0] for p in parts)
    turns = sum(p[1] for p in parts)
    games = sum(p[2] for p in parts)
    print(summary(wins, turns, games))
    print("elapsed %.3f s (%d workers)" % (time.perf_counter() - t0, a.workers),
          file=sys.stderr)


if __name__ == "__main__":
    main()
