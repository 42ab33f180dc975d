"""Does what some programs do to their process: `closerange` closes every
descriptor from 3 up (the collector's among them), `chdir` moves to
another working directory; then it keeps working and prints a total."""
import os
import sys
import tempfile


def work(n):
    return sum(range(n))


def main():
    work(100)
    if sys.argv[1] == "closerange":
        os.closerange(3, 1024)
    else:
        os.chdir(tempfile.gettempdir())
    total = 0
    for _ in range(200):
        total += work(1000)
    print(sys.argv[1], total)


if __name__ == "__main__":
    main()
