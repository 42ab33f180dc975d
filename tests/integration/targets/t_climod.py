"""Run as `-m t_climod`: prints argv and calls a function a known number of
times (given on the command line)."""
import json
import sys


def climod_work(i):
    return i + 1


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    for i in range(n):
        climod_work(i)
    print(json.dumps({"argv": sys.argv[1:], "calls": n,
                      "argv0": sys.argv[0]}))


if __name__ == "__main__":
    main()
