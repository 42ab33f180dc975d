"""A single-process program that computes and sleeps, for test_verdict.py:
the sleep is off a CPU outside every category, so it is other wait, not
compute (issue 13: compute is measured).

    python verdict_sleep.py CPU_SECONDS SLEEP_SECONDS

The main thread spins for CPU_SECONDS of its CPU time, half before and
half after one time.sleep(SLEEP_SECONDS), and measures itself from its
first line to its last; a thread named "sleeper" only sleeps
SLEEP_SECONDS, while the main thread computes.  MPPTEST_TRUTH {"pid",
"module_s" (perf_counter, wall), "module_cpu_s" (thread_time), "sleep_s"
(the sleep's own wall time), "sleeper_cpu_s" (the sleeper's thread_time,
its start and end included)}."""
import time

T0 = time.perf_counter()
C0 = time.thread_time()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402


def spin(n):
    s = 0
    for i in range(n):
        s += i * i
    return s


def compute(seconds):
    c0 = time.thread_time()
    while time.thread_time() - c0 < seconds:
        spin(20000)


def main(cpu_s, sleep_s):
    compute(cpu_s / 2)
    s0 = time.perf_counter()
    time.sleep(sleep_s)
    slept = time.perf_counter() - s0
    compute(cpu_s / 2)
    return slept


SLEEPER = {}


def sleeper(sleep_s):
    time.sleep(sleep_s)
    SLEEPER["cpu_s"] = time.thread_time()


t = threading.Thread(target=sleeper, args=(float(sys.argv[2]),),
                     name="sleeper")
t.start()
slept = main(float(sys.argv[1]), float(sys.argv[2]))
t.join()
print("MPPTEST_TRUTH " + json.dumps({
    "pid": os.getpid(),
    "module_s": time.perf_counter() - T0,
    "module_cpu_s": time.thread_time() - C0,
    "sleep_s": slept,
    "sleeper_cpu_s": SLEEPER["cpu_s"]}), flush=True)
