"""What a process observes of itself (issue 12, item 3): its OS threads,
every signal's handler, its os functions, its sys.path, and what fork
prints (3.12+ warns when the process has several threads)."""
import os
import signal
import sys
import warnings


def main():
    warnings.simplefilter("default")
    print("threads", len(os.listdir("/proc/self/task")))
    for s in sorted(signal.valid_signals()):
        try:
            h = signal.getsignal(s)
        except (OSError, ValueError):
            h = "?"
        print("signal", int(s), h)
    print("os", os._exit is getattr(__import__("posix"), "_exit"),
          os.execv.__module__, os.closerange.__module__)
    print("path", sys.path)
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    print("done")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
