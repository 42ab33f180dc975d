"""os.fork() without multiprocessing: the child works and leaves with
os._exit(3), the parent works, waits and prints the child's status."""
import os


def child_work(n):
    return sum(i * i for i in range(n))


def parent_work(n):
    return sum(range(n))


def main():
    pid = os.fork()
    if pid == 0:
        child_work(10000)
        os._exit(3)
    parent_work(10000)
    _, status = os.waitpid(pid, 0)
    print("child exit", os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
