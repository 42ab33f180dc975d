"""Builtins and methods of builtin types called from Python functions."""
import sys


def words(n):
    return ["w%d" % i for i in range(n)]


def shout(ws):
    return [w.upper() for w in ws]


def stats(ws):
    d = {}
    for w in ws:
        d[len(w)] = d.get(len(w), 0) + 1
    return sorted(d.items())


def joined(ws):
    s = ",".join(ws)
    return len(s.split(","))


def driver(rounds):
    total = 0
    acc = []
    for r in range(rounds):
        ws = words(20 + r % 5)
        total += len(shout(ws))
        total += len(stats(ws))
        total += joined(ws)
        acc.append(max(len(w) for w in ws))
        total += abs(-r) + min(r, 3)
    return total + sum(acc)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    print("result", driver(rounds))


if __name__ == "__main__":
    main()
