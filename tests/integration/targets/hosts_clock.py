"""A job for test_hosts.py's clock test: its main thread waits for a held
lock for 0.2 s at moments it notes on the kernel's clock (time.time(),
which mpprof's test skew does not move), until argv[1] (seconds since the
epoch) is past.  The truth line gives those moments in order."""
import json
import sys
import threading
import time

if __name__ == "__main__":
    until = float(sys.argv[1])
    lock = threading.Lock()
    lock.acquire()
    marks = []
    while time.time() < until:
        marks.append(time.time())
        lock.acquire(timeout=0.2)
        time.sleep(0.3)
    print("MPPTEST_TRUTH " + json.dumps({"marks": marks}))
