"""Collector target: ways a program ends, selected by argv[1].

The test runs each case with and without the collector and compares what
a parent can see: exit status, stdout, stderr.
"""
import os
import signal
import sys
import threading
import time


def ok():
    print("ok")


def exit3():
    print("exiting with 3")
    sys.exit(3)


def raise_():
    raise ValueError("boom")


def os_exit5():
    print("os._exit(5)", flush=True)
    os._exit(5)


def in_child():
    return sum(range(10))


def fork_child():
    pid = os.fork()
    if pid == 0:
        in_child()
        os._exit(7)
    _, status = os.waitpid(pid, 0)
    print("child exit", os.waitstatus_to_exitcode(status))


def spin(stop):
    while not stop.wait(0.001):
        in_child()


def fork_threads():
    # Fork while another thread is busy, from a thread that is not the
    # main one: only the forking thread exists in the child.
    stop = threading.Event()
    busy = threading.Thread(target=spin, args=(stop,))
    busy.start()
    time.sleep(0.05)

    def forker():
        pid = os.fork()
        if pid == 0:
            in_child()
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        print("child exit", os.waitstatus_to_exitcode(status))
    t = threading.Thread(target=forker, name="forker")
    t.start()
    t.join()
    stop.set()
    busy.join()


def user_sigterm():
    def handler(signum, frame):
        print("handled", signum, flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, handler)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(10)
    print("not reached")


def sigterm_self():
    print("before", flush=True)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(1)
    print("after")


def print_sys():
    print(sys.argv, __name__, sys.flags.optimize, sorted(sys.warnoptions))


def once():
    pass


def tick():
    pass


def busy():
    # Runs for about half a second: several periodic batches.
    once()
    end = time.monotonic() + 0.5
    while time.monotonic() < end:
        tick()


def restore_profile():
    # Save and restore the profile function, as debuggers and some
    # libraries do: profiling must go on afterwards.
    saved = sys.getprofile()
    sys.setprofile(None)
    once()
    sys.setprofile(saved)
    for _ in range(5):
        tick()


def before_exec():
    return sum(range(10))


def exec_self():
    before_exec()
    print("before exec", flush=True)
    code = "import sys; print('after exec'); sys.exit(5)"
    os.execv(sys.executable, [sys.executable, "-c", code])


def work():
    return sum(range(100))


def closerange():
    # What daemonizing code does: close every descriptor from 3 up.
    work()
    os.closerange(3, 1024)
    print(sum(work() for _ in range(50)))


def thread_exit():
    stop = threading.Event()
    threading.Thread(target=spin, args=(stop,), daemon=True).start()
    done = threading.Thread(target=print, args=("from thread",))
    done.start()
    done.join()
    sys.exit(4)


CASES = {name.rstrip("_"): func for name, func in list(globals().items())
         if callable(func) and not name.startswith("_")
         and getattr(func, "__module__", None) == __name__}

if __name__ == "__main__":
    CASES[sys.argv[1]]()
