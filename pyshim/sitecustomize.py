"""mpprof's hook into every Python process that `mpprof run` starts.

The launcher puts this directory first on PYTHONPATH and sets
MPPROF_ENDPOINT and MPPROF_SESSION; children inherit both, so spawn,
forkserver and subprocess Pythons load this file too.  It runs the
sitecustomize it shadows, then starts the C collector.  Whatever goes
wrong here, the program runs on unprofiled after one warning line.
"""


def _mpprof_chain():
    # Run the next sitecustomize on sys.path (Debian ships one) as module
    # `sitecustomize`, exactly as site.py would have without us.  Every
    # profiled process runs this, so the common case is made cheap: the
    # launcher puts this directory on sys.path spelled as its real path,
    # which plain string comparison finds; os.path.realpath (a system
    # call per path component) is only needed when another spelling of
    # it leads back here.
    import importlib.machinery
    import os
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    me = None
    if spec is not None and spec.origin is not None:
        me = os.path.realpath(__file__)
        if os.path.realpath(spec.origin) == me:
            here = os.path.dirname(me)
            rest = [p for p in rest
                    if os.path.realpath(p or os.curdir) != here]
            spec = importlib.machinery.PathFinder.find_spec("sitecustomize",
                                                            rest)
    if (spec is None or spec.loader is None or spec.origin is None
            or os.path.realpath(spec.origin) == me):
        return
    import importlib.util

    module = importlib.util.module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


def _mpprof_defer(enable):
    """In a process multiprocessing starts with -c code (a spawn child, the
    resource tracker, the fork server), calls `enable` when that code
    calls the function it imports; True when it will.

    Such code imports multiprocessing before anything of the program runs:
    some 14,000 calls of the standard library's own imports, the same in
    every child, which made most of what profiling a spawn child cost
    (issue 12: 10-15 ms of CPU per child with the hook on from here; on
    3.11 every call through the profile hook, on 3.12+ sys.monitoring
    instrumenting each code object the first time it runs).  Imported
    here, before the hook, that time stays in the process's start-up,
    which is timed by the clock, not by calls; from spawn_main (or the
    helper's main) on, everything is profiled: in a spawn child the main
    module's import, the unpickling and the program's own code."""
    import sys

    argv = getattr(sys, "orig_argv", ())
    try:
        code = argv[argv.index("-c") + 1]
    except (ValueError, IndexError):
        return False
    # The code as multiprocessing writes it (3.11 to 3.15); no `re`, which
    # a bare interpreter has not imported.
    for mod, name in (("spawn", "spawn_main"), ("resource_tracker", "main"),
                      ("forkserver", "main")):
        head = "from multiprocessing.%s import %s" % (mod, name)
        if code.startswith(head) and code[len(head):].lstrip(" ")[:1] == ";":
            break
    else:
        return False
    try:
        module = __import__("multiprocessing." + mod, fromlist=[name])
        real = getattr(module, name)
    except Exception:
        return False

    def entry(*args, **kwargs):
        setattr(module, name, real)
        enable()
        return real(*args, **kwargs)

    setattr(module, name, entry)
    return True


def _mpprof_start():
    import os
    import sys

    if not (os.environ.get("MPPROF_ENDPOINT")
            and os.environ.get("MPPROF_SESSION")):
        return
    ours = started = False
    # With a map directory the launcher's agent reads the collector's
    # shared mapping, even after a SIGKILL: the process keeps its signals
    # and its os functions exactly as they are without mpprof (and most
    # need not import signal, which costs a program that never uses it
    # about a millisecond).
    agent_reads = os.environ.get("MPPROF_SHM_DIR", "").startswith("/")
    try:
        from mpprof import _collector

        # multiprocessing's children import signal anyway (through
        # multiprocessing.process): imported here, before the collector
        # starts, its import costs them no profiled calls.
        mp_child = "--multiprocessing-fork" in getattr(sys, "orig_argv", ())
        if not agent_reads or mp_child:
            import signal
        # Pool.terminate() ends workers with SIGTERM: the handler sends the
        # last batch, then dies by the signal.  It goes in before start(),
        # so no SIGTERM can end a process the aggregator already knows
        # without a word.  A handler of the user's, installed before or
        # after, takes precedence.
        if (not agent_reads
                and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL):
            signal.signal(signal.SIGTERM, _collector.on_signal)
            ours = True
        _collector.start()
        started = True
        if not agent_reads:
            # multiprocessing's fork children end with os._exit, which
            # skips every exit handler, and an exec discards the process
            # image with whatever is still queued: these wrappers send the
            # last batch first.  closerange would close the collector's
            # socket under it.
            os._exit = _collector.os_exit
            os.execv = _collector.os_execv
            os.execve = _collector.os_execve
            os.closerange = _collector.os_closerange
        os.register_at_fork(after_in_child=_collector.after_fork_child)
        if not _mpprof_defer(_collector.enable):
            _collector.enable()
    except Exception as exc:
        if not started:
            # start() fails as a whole: nothing was sent for this process.
            if ours:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
            sys.stderr.write("mpprof: warning: pid %d runs unprofiled: %s\n"
                             % (os.getpid(), exc))
        else:
            # The aggregator knows the process already and gets its end,
            # so it is not unprofiled: some of its calls may be missing.
            sys.stderr.write("mpprof: warning: pid %d is profiled only in "
                             "part: %s\n" % (os.getpid(), exc))


def _mpprof_unpath():
    # This directory leaves sys.path once the hook is in: the program then
    # sees the sys.path it has unprofiled, and its imports do not pay for
    # one more entry (every import stats each directory it searches: one
    # more entry cost about 2.5M instructions in a bare interpreter's
    # start-up).  Children still find the shim through PYTHONPATH, and
    # `mpprof.magic` through the package already imported.
    import os
    import sys

    # Only under `mpprof run` (its collector imported): a user who put
    # this directory on PYTHONPATH for `%load_ext mpprof` keeps it.
    if "mpprof._collector" not in sys.modules:
        return
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if p != here]


try:
    _mpprof_chain()
finally:
    try:
        _mpprof_start()
    finally:
        _mpprof_unpath()
