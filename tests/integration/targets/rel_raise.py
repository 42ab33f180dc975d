"""Exceptions through profiled frames: caught at several depths, re-raised,
chained, and finally one left uncaught (exit status 1, traceback)."""


class Boom(Exception):
    pass


def thrower(n):
    if n == 0:
        raise Boom("bottom")
    return thrower(n - 1)


def catcher(n):
    try:
        thrower(n)
    except Boom:
        return 1
    return 0


def rethrow():
    try:
        thrower(3)
    except Boom as exc:
        raise ValueError("wrapped") from exc


def main():
    print("caught", sum(catcher(n % 10) for n in range(200)))
    try:
        rethrow()
    except ValueError as exc:
        print("chained", type(exc.__cause__).__name__)
    rethrow()


if __name__ == "__main__":
    main()
