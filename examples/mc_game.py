"""The board game shared by mc_serial.py and mc_parallel.py.

Snakes and ladders on the classic 100-square board, two players, one die.
A roll that would overshoot square 100 is forfeited; the first player to
land exactly on 100 wins.  Every game draws from its own random.Random
seeded by (seed, game index), so the result does not depend on how games
are split between processes.
"""
import random

BOARD_SIZE = 100
LADDERS = {1: 38, 4: 14, 9: 31, 21: 42, 28: 84, 36: 44, 51: 67, 71: 91, 80: 100}
SNAKES = {16: 6, 47: 26, 49: 11, 56: 53, 62: 19, 64: 60, 87: 24, 93: 73,
          95: 75, 98: 78}
JUMPS = {**LADDERS, **SNAKES}


def game_rng(seed, index):
    return random.Random(seed * 1_000_003 + index)


def roll(rng):
    return rng.randint(1, 6)


def advance(position, dice):
    target = position + dice
    if target > BOARD_SIZE:
        return position
    return target


def apply_jump(position):
    return JUMPS.get(position, position)


def take_turn(position, rng):
    return apply_jump(advance(position, roll(rng)))


def play_game(seed, index, players=2):
    """Plays one game; returns (winner, number of turns taken)."""
    rng = game_rng(seed, index)
    positions = [0] * players
    turns = 0
    while True:
        for p in range(players):
            turns += 1
            positions[p] = take_turn(positions[p], rng)
            if positions[p] == BOARD_SIZE:
                return p, turns


def simulate(seed, start, stop):
    """Plays games START..STOP-1; returns (first player wins, total turns,
    games played)."""
    wins = 0
    turns = 0
    for index in range(start, stop):
        winner, t = play_game(seed, index)
        wins += winner == 0
        turns += t
    return wins, turns, stop - start


def simulate_chunk(args):
    return simulate(*args)


def summary(wins, turns, games):
    return ("games=%d first_player_wins=%.4f mean_turns=%.3f"
            % (games, wins / games, turns / games))
