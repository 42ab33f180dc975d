"""Works, then replaces itself with another program: `python` runs a
second Python that prints and exits 5; `true` runs /bin/true.  It waits
a little before the exec, so that whatever its collector sends on its own
has arrived: what happens at the exec itself is then all that differs."""
import os
import sys
import time


def before_exec(n):
    return sum(range(n))


def main():
    before_exec(1000)
    print("before exec", flush=True)
    time.sleep(0.3)
    if sys.argv[1] == "python":
        code = "print('after exec'); raise SystemExit(5)"
        os.execv(sys.executable, [sys.executable, "-c", code])
    os.execv("/bin/true", ["true"])


if __name__ == "__main__":
    main()
