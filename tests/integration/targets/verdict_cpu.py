"""A single-process, CPU-bound program for test_verdict.py: the right
verdict is compute, with no advice about workers.

    python verdict_cpu.py SECONDS

Spins in pure Python for about SECONDS and measures itself from its first
line to its last: MPPTEST_TRUTH {"pid", "module_s" (perf_counter, wall),
"module_cpu_s" (thread_time)}.  Nothing runs before or after the timed
part but the interpreter's own start and exit, so the time the profiler
measured outside every category is module_s."""
import time

T0 = time.perf_counter()
C0 = time.thread_time()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402


def spin(n):
    s = 0
    for i in range(n):
        s += i * i
    return s


def main(seconds):
    # Small slices of work until the CPU time is spent, so the length is
    # CPU time whatever the load of the machine.
    while time.thread_time() - C0 < seconds:
        spin(20000)


main(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)
print("MPPTEST_TRUTH " + json.dumps({
    "pid": os.getpid(),
    "module_s": time.perf_counter() - T0,
    "module_cpu_s": time.thread_time() - C0}), flush=True)
