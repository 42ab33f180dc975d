"""A Manager whose one method takes a known time in its server, for
test_verdict.py: the main process calls it CALLS times through its proxy,
each call a round trip it waits for in IPC while the server sleeps DELAY.  The
right verdict is IPC wait, by construction: the main process does nothing
else, and the server, a helper, waits for requests between calls.  (Issue
13: the server's wait for requests led as lock wait, with a hint about
shared locks, and the round trips were dismissed as idle.)

    python verdict_manager.py CALLS DELAY

Prints MPPTEST_TRUTH {"main": pid, "server": pid, "calls": CALLS,
"round_trips_s": seconds the calls took, timed around them,
"manager_s": seconds of the whole with block: the server's start (through
the fork server where that is the default start method, 3.14 on), the
calls and its shutdown}."""
import json
import os
import sys
import time
from multiprocessing.managers import BaseManager


class Slow:
    def work(self, delay):
        # Off a CPU, so that what the server does is no compute either.
        time.sleep(delay)
        return os.getpid()


class SlowManager(BaseManager):
    pass


SlowManager.register("Slow", Slow)


def main():
    calls, delay = int(sys.argv[1]), float(sys.argv[2])
    t_with = time.perf_counter()
    with SlowManager() as m:
        slow = m.Slow()
        t0 = time.perf_counter()
        servers = {slow.work(delay) for _ in range(calls)}
        waited = time.perf_counter() - t0
    with_s = time.perf_counter() - t_with
    print("MPPTEST_TRUTH " + json.dumps({
        "main": os.getpid(), "server": servers.pop(), "calls": calls,
        "round_trips_s": waited, "manager_s": with_s}))


if __name__ == "__main__":
    main()
