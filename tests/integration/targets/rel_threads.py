"""Starts N short-lived threads (default 1000), at most BATCH at a time,
each calling work() once; joins them all and prints the sum."""
import sys
import threading


def work(i, out):
    out[i] = sum(range(i % 50))


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    batch = 100
    out = [0] * n
    for start in range(0, n, batch):
        threads = [threading.Thread(target=work, args=(i, out))
                   for i in range(start, min(n, start + batch))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    print("threads", n, "sum", sum(out))


if __name__ == "__main__":
    main()
