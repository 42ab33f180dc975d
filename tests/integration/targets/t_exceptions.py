"""Exceptions raised deep and caught several frames up, re-raised, handled
in the middle, through finally blocks and out of generators."""
import sys


class Boom(Exception):
    pass


def level3(i):
    if i % 3 == 0:
        raise Boom(i)
    if i % 3 == 1:
        raise ValueError(i)
    return i


def level2(i):
    try:
        return level3(i)
    finally:
        cleanup(i)


def cleanup(i):
    return i


def level1(i):
    try:
        return level2(i)
    except ValueError:
        return -1


def reraiser(i):
    try:
        return level1(i)
    except Boom:
        note(i)
        raise


def note(i):
    return i


def failing_gen(n):
    for i in range(n):
        if i == n - 1:
            raise Boom("gen")
        yield i


def consume_gen(n):
    try:
        return sum(failing_gen(n))
    except Boom:
        return -2


def driver(rounds):
    caught = 0
    for i in range(rounds):
        try:
            reraiser(i)
        except Boom:
            caught += 1
        consume_gen(5 + i % 3)
    return caught


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    print("caught", driver(rounds))


if __name__ == "__main__":
    main()
