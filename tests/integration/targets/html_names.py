"""A Pool whose workers call a function named to break out of an HTML
script element, for test_html.py: report.html must show the name as text
and run no script of it.

    python html_names.py N

Each of the N tasks sleeps 20 ms inside the hostile function, so that it
ranks high in the function table and is wide in the flame graph."""
import multiprocessing as mp
import sys
import time

EVIL = "</script><script>alert(1)</script>"


def _evil(x):
    time.sleep(0.02)
    return x + 1


# The profile names a function by its code object's name.
_evil.__code__ = _evil.__code__.replace(co_name=EVIL)


def main():
    n = int(sys.argv[1])
    with mp.get_context("fork").Pool(2) as p:
        res = p.map(_evil, range(n), chunksize=1)
    assert res == [x + 1 for x in range(n)]


if __name__ == "__main__":
    main()
