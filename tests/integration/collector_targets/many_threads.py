"""Collector target: N short-lived threads, one after the other.

Runs WARM threads first (so the allocator, the thread stacks and the
collector's function registry reach their steady state), prints "ready"
and waits for a line on stdin; then runs N more, prints "done" and waits
again.  The test reads this process's RSS from outside at both points.
Prints the number of work() calls at the end."""
import sys
import threading

calls = [0]


def work(i):
    calls[0] += 1
    return sum(range(i % 50))


def run(n):
    for i in range(n):
        t = threading.Thread(target=work, args=(i,))
        t.start()
        t.join()


def pause(word):
    sys.stdout.write(word + "\n")
    sys.stdout.flush()
    sys.stdin.readline()


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    warm = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    run(warm)
    pause("ready")
    run(n)
    pause("done")
    print("calls", calls[0])


if __name__ == "__main__":
    main()
