"""Regression target for issue 9, item 1.

Seven threads kept busy across several batches, one short thread that
has finished and comes after them in the collector's thread list, and
the main thread waiting in join().  Every batch then has eight threads
with changes (the busy ones, and the main one inside a lock wait) and
one without; the collector once sized its per-thread scratch array for
the threads with changes (8) and then wrote a slot for every thread, one
past the end of that array.  The phases below only arrange that the
array's capacity is 8 when that happens: the busy threads first sleep,
so the short thread's batch finds them without changes.  Prints
"busy 7"."""
import threading
import time

BUSY = 7


def idle_then_spin(wake, until, out, i):
    time.sleep(max(0.0, wake - time.monotonic()))
    n = 0
    while time.monotonic() < until:
        n += sum(range(50))
    out[i] = n > 0


def short():
    return 1


def spin_main(seconds):
    # Events on the main thread, so the collector's periodic batches go
    # out (they are sent from the hook).
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sum(range(50))


def main():
    t0 = time.monotonic()
    wake, until = t0 + 0.6, t0 + 1.3
    out = [False] * BUSY
    threads = [threading.Thread(target=idle_then_spin,
                                args=(wake, until, out, i))
               for i in range(BUSY)]
    for t in threads:
        t.start()
    spin_main(0.25)
    s = threading.Thread(target=short)
    s.start()
    s.join()
    spin_main(0.25)
    for t in threads:
        t.join()
    print("busy", sum(out))


if __name__ == "__main__":
    main()
