"""A worker thread started before the collector (see sitecustomize.py
here): it blocks until t_thread_early.py sets `go`, then calls
early_branch, which calls early_leaf n times."""
import threading

ready = threading.Event()
go = threading.Event()
done = threading.Event()
work = []
leaf_calls = []
branches = 0
result = None
_thread = None


def early_leaf(i):
    leaf_calls.append(1)
    return i * 3


def early_branch(n):
    global branches
    branches += 1
    return sum(early_leaf(i) for i in range(n))


def _worker():
    global result
    ready.set()
    go.wait(60)
    result = early_branch(work[0]) if work else None
    done.set()


def start():
    global _thread
    _thread = threading.Thread(target=_worker, name="early", daemon=True)
    _thread.start()
    # _worker has begun before the collector starts: its frame is one
    # that profiling finds running.
    ready.wait(60)


def started_at_import():
    return _thread is not None and _thread.is_alive()
