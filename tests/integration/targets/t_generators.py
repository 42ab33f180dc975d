"""Generators: plain, `yield from`, generator expressions, comprehensions,
send(), early close."""
import sys


def count_up(n):
    i = 0
    while i < n:
        yield i
        i += 1


def squares(n):
    for i in count_up(n):
        yield i * i


def chained(n):
    yield from count_up(n)
    yield from squares(n)


def accumulator():
    total = 0
    while True:
        value = yield total
        if value is None:
            return total
        total += value


def use_send(n):
    acc = accumulator()
    next(acc)
    for i in range(n):
        acc.send(i)
    acc.close()


def take_some(n):
    out = []
    for v in count_up(n * 10):
        if v >= n:
            break
        out.append(v)
    return out


def driver(rounds):
    total = 0
    for r in range(rounds):
        total += sum(x + 1 for x in chained(20 + r % 5))
        total += sum([v for v in squares(15)])
        total += len({v % 7 for v in count_up(30)})
        use_send(10)
        total += len(take_some(5))
    return total


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    print("result", driver(rounds))


if __name__ == "__main__":
    main()
