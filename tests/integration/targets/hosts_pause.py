"""For test_netns.py's restored link: calls work() exactly K times
(argv[1]), creates the file argv[2], waits for the file argv[3], then
calls work() exactly K2 more times (argv[4]) and ends, after sleeping
argv[5] seconds if given."""
import os
import sys
import time


def work(x):
    return x + 1


if __name__ == "__main__":
    k, marker, go, k2 = int(sys.argv[1]), sys.argv[2], sys.argv[3], \
        int(sys.argv[4])
    for i in range(k):
        work(i)
    with open(marker, "w") as f:
        f.write("done\n")
    deadline = time.monotonic() + 120
    while not os.path.exists(go) and time.monotonic() < deadline:
        time.sleep(0.02)
    for i in range(k2):
        work(i)
    if len(sys.argv) > 5:
        time.sleep(float(sys.argv[5]))
