"""For test_netns.py's cut link: calls work() exactly K times (argv[1]),
then creates the file argv[2] and sleeps until it is ended, so the
calls before the cut are known exactly."""
import sys
import time


def work(x):
    return x + 1


if __name__ == "__main__":
    k, marker = int(sys.argv[1]), sys.argv[2]
    for i in range(k):
        work(i)
    with open(marker, "w") as f:
        f.write("done\n")
    time.sleep(300)
