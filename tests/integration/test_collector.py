"""Integration tests of the collector on its own, without the launcher.

Each test runs a target script from collector_targets/ in a fresh Python
with the shim on PYTHONPATH, the way `mpprof run` would, and checks either
the collector's own snapshot (against cProfile on the same script), the
program's behaviour (exit status, output, signals, exit time), or the
messages it sends.  The harness (running, receiving, decoding) is in
collector_harness.py; its docstring lists the environment it reads.
"""
import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
import unittest

from collector_harness import (BYE, DATA, EXIT_CODE, EXIT_OK, EXIT_SIGNAL,
                               HELLO, PYSHIM, PYTHON, TIMEOUT, MessageTest,
                               TempDirTest, base_env, run, shim_env, target)


# ---- the tests -------------------------------------------------------------

def _target_rows(stats, path):
    return {k: v for k, v in stats.items() if k[0] == path}


class CountsMatchCProfile(TempDirTest):
    """ncalls, primitive calls and callers equal cProfile's, function by
    function: recursion, mutual recursion, generators, exceptions through
    frames, builtins, classes."""

    def test_calls(self):
        path = target("calls.py")
        ours, _ = self.snapshot_run(path)
        theirs = self.cprofile_run(path)
        mine = _target_rows(ours, path)
        truth = _target_rows(theirs, path)
        self.assertGreater(len(truth), 25)
        self.assertEqual(sorted(mine), sorted(truth))
        for key, (cc, nc, tt, ct, callers) in truth.items():
            with self.subTest(function=key[2], line=key[1]):
                self.assertEqual(mine[key][:2], (cc, nc))
                if key[2] == "<module>":
                    continue  # cProfile's own exec() calls it
                self.assertEqual(
                    {c: v[:2] for c, v in mine[key][4].items()},
                    {c: v[:2] for c, v in callers.items()})
        # Builtins called from the target's functions: same names, same
        # counts per caller.
        for key, row in theirs.items():
            if key[0] != "~":
                continue
            want = {c: v[:2] for c, v in row[4].items()
                    if c[0] == path and c[2] != "<module>"}
            if not want:
                continue
            with self.subTest(builtin=key[2]):
                self.assertIn(key, ours)
                got = {c: v[:2] for c, v in ours[key][4].items()
                       if c[0] == path and c[2] != "<module>"}
                self.assertEqual(got, want)

    def test_deep_recursion(self):
        path = target("deep.py")
        ours, r = self.snapshot_run(path, "25000")
        row = ours[(path, 4, "down")]
        self.assertEqual(row[:2], (1, 25001))
        # The edge down->down: its first call is not recursive for the
        # edge, exactly as cProfile counts sub-entries.
        self.assertEqual(row[4][(path, 4, "down")][:2], (25000, 1))

    def test_threads(self):
        path = target("threads.py")
        ours, r = self.snapshot_run(path)
        self.assertEqual(r.out, "[9900, 39800, 89700]\n")
        rows = _target_rows(ours, path)
        self.assertEqual(rows[(path, 14, "worker")][:2], (3, 3))
        self.assertEqual(rows[(path, 10, "step")][:2], (610, 610))
        work = rows[(path, 6, "work")]
        self.assertEqual(work[:2], (4, 4))
        self.assertEqual({c[2]: v[:2] for c, v in work[4].items()},
                         {"main": (1, 1), "worker": (3, 3)})
        # The thread's first frame (Thread.run) is not lost to the
        # installer.
        worker = rows[(path, 14, "worker")]
        self.assertEqual([c[2] for c in worker[4]], ["run"])


class TestClock(TempDirTest):
    """MPPROF_TEST_CLOCK=1 advances 1000 ns per read, one read per event:
    every time is exact, and equals cProfile's with the same clock."""

    EXPECTED = {  # name: (cc, nc, tt, ct) in units of 1000 ns
        "top": (1, 1, 4, 15),
        "mid": (1, 1, 3, 5),
        "leaf": (3, 3, 3, 3),
        "rec": (1, 3, 5, 5),
    }

    def test_exact_times(self):
        path = target("clocktree.py")
        ours, _ = self.snapshot_run(path, MPPROF_TEST_CLOCK=1)
        rows = {k[2]: v for k, v in _target_rows(ours, path).items()}
        for name, (cc, nc, tt, ct) in self.EXPECTED.items():
            with self.subTest(function=name):
                got = rows[name]
                self.assertEqual(got[:2], (cc, nc))
                self.assertAlmostEqual(got[2], tt * 1e-6, delta=1e-12)
                self.assertAlmostEqual(got[3], ct * 1e-6, delta=1e-12)
        rec_self = {c[2]: v for c, v in rows["rec"][4].items()}["rec"]
        self.assertEqual(rec_self[:2], (2, 1))
        self.assertAlmostEqual(rec_self[2], 3e-6, delta=1e-12)
        self.assertAlmostEqual(rec_self[3], 3e-6, delta=1e-12)

        # The same tree under cProfile, with a timer that also steps
        # 1000 ns per read: every number must agree.
        import cProfile
        spec = importlib.util.spec_from_file_location("clocktree", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        ticks = [0]

        def timer():
            ticks[0] += 1000
            return ticks[0]
        prof = cProfile.Profile(timer, 1e-9)
        prof.runcall(module.top)
        prof.create_stats()
        for key, (cc, nc, tt, ct, callers) in prof.stats.items():
            if key[0] != path:
                continue
            with self.subTest(cprofile=key[2]):
                got = rows[key[2]]
                self.assertEqual(got[:2], (cc, nc))
                self.assertAlmostEqual(got[2], tt, delta=1e-12)
                self.assertAlmostEqual(got[3], ct, delta=1e-12)
                for caller, value in callers.items():
                    mine = {c[2]: v for c, v in got[4].items()}[caller[2]]
                    self.assertEqual(mine[:2], value[:2])
                    self.assertAlmostEqual(mine[2], value[2], delta=1e-12)
                    self.assertAlmostEqual(mine[3], value[3], delta=1e-12)


class ProgramUnchanged(TempDirTest):
    """The shim changes nothing the program or its parent can see."""

    CASES = ["ok", "exit3", "raise", "os_exit5", "fork_child",
             "fork_threads", "user_sigterm", "print_sys", "thread_exit",
             "restore_profile", "exec_self", "closerange"]

    @staticmethod
    def _err(text, sockets):
        """stderr with pids made equal; with sockets on 3.12+, without
        Python's warning that fork() is called in a multi-threaded process
        (the collector's ZeroMQ threads: a documented cost of
        MPPROF_MAPS=0, which the map directory's default path does not
        have)."""
        text = re.sub(r"pid=\d+", "pid=N", text)
        if sockets:
            text = re.sub(r".*DeprecationWarning: This process \(pid=N\) is "
                          r"multi-threaded.*\n.*\n", "", text)
        return text

    def test_same_status_and_output(self):
        script = target("behaviour.py")
        maps = os.path.join(self.tmp, "maps")
        os.mkdir(maps, 0o700)
        for case in self.CASES:
            for mode, extra in (("maps", {"MPPROF_SHM_DIR": maps}),
                                ("sockets", {})):
                with self.subTest(case=case, mode=mode):
                    sockets = mode == "sockets"
                    plain = run([script, case], base_env())
                    shim = run([script, case],
                               shim_env(self.nowhere, MPPROF_LINGER_MS=100,
                                        **extra))
                    self.assertEqual(shim.rc, plain.rc)
                    self.assertEqual(shim.out, plain.out)
                    self.assertEqual(
                        self._err(shim.err_without_mpprof(), sockets),
                        self._err(plain.err, sockets))

    def test_sigterm_kills_by_signal(self):
        r = run([target("behaviour.py"), "sigterm_self"],
                shim_env(self.nowhere, MPPROF_LINGER_MS=100))
        self.assertEqual(r.rc, -signal.SIGTERM)
        self.assertEqual(r.out, "before\n")
        self.assertEqual(r.err_without_mpprof(), "")

    def test_ignored_sigterm_stays_ignored(self):
        # A disposition set before Python starts (here SIG_IGN, inherited)
        # is not replaced by the collector's handler.
        def ignore():
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        r = run([target("behaviour.py"), "sigterm_self"],
                shim_env(self.nowhere, MPPROF_LINGER_MS=100),
                preexec_fn=ignore)
        self.assertEqual(r.rc, 0)
        self.assertEqual(r.out, "before\nafter\n")

    def test_exit_is_quick_without_aggregator(self):
        # Default linger (3 s): exit must not hang when nobody listens, and
        # says so in exactly one line.
        r = run([target("behaviour.py"), "ok"], shim_env(self.nowhere))
        self.assertEqual(r.rc, 0)
        self.assertLess(r.seconds, 5.0)
        warnings = [l for l in r.err.splitlines() if l.startswith("mpprof:")]
        self.assertEqual(len(warnings), 1, r.err)

    def test_pool_terminate_does_not_hang(self):
        r = run([target("pool.py"), "fork", "terminate"],
                shim_env(self.nowhere, MPPROF_LINGER_MS=200), timeout=60)
        self.assertEqual(r.rc, 0, r.err)
        self.assertEqual(r.out, "328350\n")
        self.assertLess(r.seconds, 20)

    def test_not_started_without_environment(self):
        env = base_env()
        env["PYTHONPATH"] = PYSHIM
        r = run(["-c", "import sys; print('mpprof._collector' in "
                 "sys.modules, sys.getprofile())"], env)
        self.assertEqual(r.out, "False None\n")
        self.assertEqual(r.err, "")


class Messages(MessageTest):
    """What the collector sends: per-process streams and their lifecycle."""

    def test_single_process_stream(self):
        r, by_pid = self.run_and_receive([target("behaviour.py"), "exit3"])
        self.assertEqual(r.rc, 3)
        self.assertEqual(len(by_pid), 1)
        (pid, msgs), = by_pid.items()
        self.check_stream(pid, msgs)
        hello, bye = msgs[0].body, msgs[-1].body
        self.assertEqual(hello["start_method"], "main")
        self.assertEqual(hello["ppid"], os.getpid())
        self.assertEqual(hello["name"], "MainProcess")
        self.assertEqual(hello["argv"][-2:],
                         [target("behaviour.py"), "exit3"])
        self.assertEqual(hello["python"], "%d.%d.%d" % sys.version_info[:3])
        self.assertEqual((bye["exit_kind"], bye["exit_code"]), (EXIT_CODE, 3))
        self.assertEqual(self.final_calls(msgs, "exit3"), 1)

    def test_periodic_batches_carry_changes_only(self):
        r, by_pid = self.run_and_receive([target("behaviour.py"), "busy"],
                                         MPPROF_INTERVAL_MS=50)
        self.assertEqual(r.rc, 0, r.err)
        (pid, msgs), = by_pid.items()
        self.check_stream(pid, msgs)
        data = [m.body for m in msgs if m.type == DATA]
        self.assertGreaterEqual(len(data), 5)
        fids = {}
        for d in data:
            self.assertGreater(d["mem"], 0)
            self.assertEqual(d["name"], "MainProcess")
            for fid, file, line, name in d.get("funcs", []):
                self.assertNotIn(fid, fids, "definition sent twice")
                fids[fid] = name
        once = [f for f, n in fids.items() if n == "once"]
        tick = [f for f, n in fids.items() if n == "tick"]
        seen_once = 0
        ticks = []
        for d in data:
            for row in d.get("threads", []):
                tid, tname, stats, edges, cats = row[:5]
                # No pickling or IPC here; start-up (the last category)
                # is the main thread's, entered once.  From 3.14 the
                # import system takes an RLock per module, and those
                # acquisitions, uncontended, are measured lock wait of a
                # few microseconds: nothing like a real wait.
                self.assertEqual([cats[0], cats[1], cats[3]],
                                 [[0, 0, 0]] * 3)
                self.assertLess(cats[2][0], 1_000_000)
                if sys.version_info < (3, 14):
                    self.assertEqual(cats[2], [0, 0, 0])
                self.assertEqual(cats[4][1:], [1, 0])
                self.assertGreater(cats[4][0], 0)
                for fid, ncalls, pcalls, tt, ct in stats:
                    if fid in once:
                        seen_once += 1
                    if fid in tick:
                        ticks.append(ncalls)
        # Sent when it changed, and not again.
        self.assertEqual(seen_once, 1)
        # Cumulative values, growing batch after batch.
        self.assertGreater(len(ticks), 3)
        self.assertEqual(ticks, sorted(ticks))
        self.assertEqual(ticks[-1], self.final_calls(msgs, "tick"))

    def test_restored_profile_function_keeps_profiling(self):
        r, by_pid = self.run_and_receive([target("behaviour.py"),
                                          "restore_profile"])
        self.assertEqual(r.rc, 0, r.err)
        (pid, msgs), = by_pid.items()
        self.assertEqual(self.final_calls(msgs, "tick"), 5)
        # With the profile hook, sys.setprofile(None) stops it for `once`;
        # the sys.monitoring backend of 3.12+ is not a profile function,
        # so it goes on counting, as cProfile of those versions does.
        monitoring = (sys.version_info >= (3, 12) and
                      os.environ.get("MPPROF_BACKEND") != "hook")
        self.assertEqual(self.final_calls(msgs, "once"), int(monitoring))

    def test_exec_ends_one_incarnation_and_starts_another(self):
        r, by_pid = self.run_and_receive([target("behaviour.py"),
                                          "exec_self"])
        self.assertEqual(r.rc, 5, r.err)
        self.assertEqual(r.out, "before exec\nafter exec\n")
        (pid, msgs), = by_pid.items()
        starts = [i for i, m in enumerate(msgs) if m.type == HELLO]
        self.assertEqual(len(starts), 2)
        first, second = msgs[:starts[1]], msgs[starts[1]:]
        self.check_stream(pid, first)
        self.check_stream(pid, second)
        self.assertEqual(self.final_calls(first, "before_exec"), 1)
        self.assertEqual((first[-1].body["exit_kind"],
                          first[-1].body["exit_code"]), (EXIT_OK, 0))
        hello = second[0].body
        self.assertEqual((hello["start_method"], hello["ppid"]),
                         ("exec", pid))
        self.assertEqual((second[-1].body["exit_kind"],
                          second[-1].body["exit_code"]), (EXIT_CODE, 5))

    def test_closerange_keeps_streaming(self):
        r, by_pid = self.run_and_receive([target("behaviour.py"),
                                          "closerange"])
        self.assertEqual(r.rc, 0, r.err)
        (pid, msgs), = by_pid.items()
        self.check_stream(pid, msgs)
        self.assertEqual(self.final_calls(msgs, "work"), 51)

    def test_file_names_keep_their_bytes(self):
        # A script whose path is not valid UTF-8: the definition carries
        # the path's bytes, which os.fsdecode turns back into co_filename.
        base = os.path.join(os.fsencode(self.tmp), b"dir \xff")
        os.mkdir(base)
        script = base + b"/t\xfe.py"
        with open(script, "w") as f:
            f.write("def digest():\n    return 1\ndigest()\n")
        r, by_pid = self.run_and_receive([os.fsdecode(script)])
        self.assertEqual(r.rc, 0, r.err)
        (pid, msgs), = by_pid.items()
        files = {f[1] for m in msgs if m.type == DATA
                 for f in m.body.get("funcs", []) if f[3] == "digest"}
        self.assertEqual(files, {os.fsdecode(script)})
        self.assertEqual(msgs[0].body["argv"][-1], os.fsdecode(script))

    def test_fork_children(self):
        r, by_pid = self.run_and_receive([target("behaviour.py"),
                                          "fork_child"])
        self.assertEqual(r.rc, 0, r.err)
        self.assertEqual(len(by_pid), 2)
        parent = min(by_pid, key=lambda p: by_pid[p][0].body["start_ns"])
        child = [p for p in by_pid if p != parent][0]
        for pid, msgs in by_pid.items():
            self.check_stream(pid, msgs)
        hello = by_pid[child][0].body
        self.assertEqual(hello["start_method"], "fork")
        self.assertEqual(hello["ppid"], parent)
        bye = by_pid[child][-1].body
        self.assertEqual((bye["exit_kind"], bye["exit_code"]), (EXIT_CODE, 7))
        # The child's numbers start from zero at the fork.
        self.assertEqual(self.final_calls(by_pid[child], "in_child"), 1)
        self.assertEqual(self.final_calls(by_pid[child], "fork_child"), 0)
        self.assertEqual(self.final_calls(by_pid[parent], "in_child"), 0)

    def test_fork_from_thread_keeps_only_that_thread(self):
        r, by_pid = self.run_and_receive([target("behaviour.py"),
                                          "fork_threads"])
        self.assertEqual(r.rc, 0, r.err)
        self.assertEqual(r.out, "child exit 0\n")
        self.assertEqual(len(by_pid), 2)
        child = [p for p, m in by_pid.items()
                 if m[0].body["start_method"] == "fork"][0]
        msgs = by_pid[child]
        self.check_stream(child, msgs)
        names = {t[1] for m in msgs if m.type == DATA
                 for t in m.body.get("threads", [])}
        self.assertEqual(names, {"forker"})
        self.assertEqual(self.final_calls(msgs, "in_child"), 1)
        self.assertEqual(self.final_calls(msgs, "spin"), 0)

    def test_failed_start_sends_nothing(self):
        # Issue 9, item 6: when start() fails the shim says the process
        # runs unprofiled, so no HELLO (and no BYE) may have gone out.
        env = shim_env(self.endpoint)
        env["PYTHONPATH"] = os.pathsep.join(
            [PYSHIM, target("refuse_atexit")])
        start = time.monotonic()
        r = run([target("behaviour.py"), "ok"], env)
        while time.monotonic() - start < 3 and self.pull.poll():
            pass
        self.assertEqual(r.rc, 0, r.err)
        self.assertEqual(r.out, "ok\n")
        self.assertIn("runs unprofiled: atexit refused by the test", r.err)
        self.assertEqual(self.pull.messages, [])

    def test_sigterm_sends_bye(self):
        r, by_pid = self.run_and_receive([target("behaviour.py"),
                                          "sigterm_self"])
        self.assertEqual(r.rc, -signal.SIGTERM)
        (pid, msgs), = by_pid.items()
        self.check_stream(pid, msgs)
        bye = msgs[-1].body
        self.assertEqual((bye["exit_kind"], bye["exit_code"]),
                         (EXIT_SIGNAL, signal.SIGTERM))

    def check_pool(self, method, how):
        r, by_pid = self.run_and_receive([target("pool.py"), method, how])
        self.assertEqual(r.rc, 0, r.err)
        self.assertEqual(r.out, "328350\n")
        for pid, msgs in by_pid.items():
            self.check_stream(pid, msgs)
        hellos = {pid: msgs[0].body for pid, msgs in by_pid.items()}
        main = [p for p, h in hellos.items() if h["start_method"] == "main"]
        self.assertEqual(len(main), 1)
        # Every call of square() is in exactly one worker's stream.
        self.assertEqual(sum(self.final_calls(m, "square")
                             for m in by_pid.values()), 100)
        return main[0], hellos, by_pid

    def test_pool_fork_terminate(self):
        main, hellos, by_pid = self.check_pool("fork", "terminate")
        workers = [p for p, h in hellos.items() if p != main]
        self.assertEqual(len(workers), 3)
        named = 0
        for p in workers:
            self.assertEqual(hellos[p]["start_method"], "fork")
            self.assertEqual(hellos[p]["ppid"], main)
            # A worker that ran tasks was named by Process._bootstrap long
            # before terminate(), so its last batch must carry that name.
            # Under load a worker can be terminated before it ran any task
            # (the others took all 100), even before _bootstrap named it:
            # the parent's name is then still the truth.
            if self.final_calls(by_pid[p], "square") == 0:
                continue
            last = by_pid[p][-2].body  # the DATA before BYE
            self.assertTrue(last["name"].startswith("ForkPoolWorker-"),
                            [m.body.get("name") for m in by_pid[p]])
            named += 1
        self.assertGreater(named, 0)

    def test_pool_spawn_terminate_every_worker_says_bye(self):
        # Workers often get SIGTERM while already exiting, after Python
        # dropped its handler: the exit hold keeps the last batch.
        for _ in range(3):
            self.pull.messages.clear()
            self.check_pool("spawn", "terminate")

    def test_pool_spawn(self):
        main, hellos, by_pid = self.check_pool("spawn", "close")
        methods = sorted(h["start_method"] for p, h in hellos.items()
                         if p != main)
        # The resource tracker is an exec'd child; the workers are spawned.
        self.assertEqual(methods.count("spawn"), 3)
        for p, h in hellos.items():
            if p != main:
                self.assertEqual(h["ppid"], main)

    def test_pool_forkserver(self):
        main, hellos, by_pid = self.check_pool("forkserver", "terminate")
        # The fork server is exec'd by the main process; the workers are
        # its forks (and inherit its command line).
        server = [p for p, h in hellos.items() if h["ppid"] == main and
                  any("multiprocessing.forkserver" in a for a in h["argv"])]
        self.assertEqual(len(server), 1)
        self.assertEqual(hellos[server[0]]["start_method"], "forkserver")
        workers = [p for p, h in hellos.items() if h["ppid"] == server[0]]
        self.assertEqual(len(workers), 3)
        for p in workers:
            self.assertEqual(hellos[p]["start_method"], "forkserver")


def _rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


class Threads(MessageTest):
    """Threads that end: their numbers are delivered, their tables
    released, and a new thread is a new thread even when the kernel gives
    it an id that an ended one had (issue 9, items 3 and 4)."""

    def run_paused(self, args, env, receive):
        """Runs a target that stops at "ready" and "done" lines until it
        gets a line on stdin; returns (rc, stdout lines, {word: RSS KiB})
        with the RSS read from /proc at each stop."""
        import threading
        stop = threading.Event()

        def drain():
            while not stop.is_set():
                self.pull.poll()
        drainer = threading.Thread(target=drain) if receive else None
        if drainer:
            drainer.start()
        proc = subprocess.Popen([PYTHON] + list(args), env=env,
                                stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        rss = {}
        lines = []
        try:
            for line in proc.stdout:
                word = line.strip()
                lines.append(word)
                if word in ("ready", "done"):
                    rss[word] = _rss_kib(proc.pid)
                    proc.stdin.write("\n")
                    proc.stdin.flush()
            proc.wait(timeout=TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdin.close()
            proc.stdout.close()
            if drainer:
                # What the last batches still carry: up to the BYE, which
                # a loaded machine may take more than a moment to pass
                # on, then half a second more for anything after it
                # (which check_stream would catch).
                deadline = time.monotonic() + TIMEOUT
                while (time.monotonic() < deadline and
                       not any(m.type == BYE for m in self.pull.messages)):
                    time.sleep(0.05)
                time.sleep(0.5)
                stop.set()
                drainer.join()
        return proc.returncode, lines, rss

    def test_finished_threads_are_released(self):
        if "asan" in os.environ.get("LD_PRELOAD", ""):
            # The sanitizer's quarantine keeps freed memory resident, in
            # the unprofiled run too: RSS says nothing about leaks there.
            self.skipTest("RSS is not comparable under a preloaded ASan")
        n, warm = 5000, 500
        args = [target("many_threads.py"), str(n), str(warm)]
        rc, out, plain = self.run_paused(args, base_env(), False)
        self.assertEqual(rc, 0)
        rc, out_p, prof = self.run_paused(args, shim_env(self.endpoint),
                                          True)
        self.assertEqual(rc, 0)
        self.assertEqual(out_p, out)
        grow_plain = plain["done"] - plain["ready"]
        grow_prof = prof["done"] - prof["ready"]
        sys.stderr.write("RSS growth over %d finished threads: %d KiB "
                         "profiled, %d KiB unprofiled ... "
                         % (n, grow_prof, grow_plain))
        self.assertLessEqual(
            grow_prof - grow_plain, 2048,
            "RSS growth over %d finished threads: %d KiB profiled, "
            "%d KiB unprofiled" % (n, grow_prof, grow_plain))
        # Every call of every ended thread is delivered.
        by_pid = {}
        for m in self.pull.messages:
            by_pid.setdefault(m.pid, []).append(m)
        (pid, msgs), = by_pid.items()
        self.check_stream(pid, msgs)
        self.assertEqual(self.final_calls(msgs, "work"), n + warm)

    def test_busy_threads_and_an_ended_one(self):
        # Issue 9, item 1's script: eight threads with changes at every
        # batch and one without after them.  Under a sanitizer build the
        # old collector wrote past its scratch array here.
        path = os.path.join(os.path.dirname(target("x")), os.pardir,
                            "targets", "reg_thread_overflow.py")
        r, by_pid = self.run_and_receive([os.path.abspath(path)])
        self.assertEqual(r.rc, 0, r.err)
        self.assertEqual(r.out, "busy 7\n")
        (pid, msgs), = by_pid.items()
        self.check_stream(pid, msgs)
        self.assertEqual(self.final_calls(msgs, "short"), 1)
        self.assertEqual(self.final_calls(msgs, "idle_then_spin"), 7)

    def test_reused_thread_id_is_a_new_thread(self):
        r, by_pid = self.run_and_receive([target("tid_reuse.py")])
        self.assertEqual(r.rc, 0, r.err)
        words = dict(line.split() for line in r.out.splitlines())
        reused, threads = int(words["reused"]), int(words["threads"])
        if reused == 0:
            self.skipTest("cannot steer thread ids "
                          "(/proc/sys/kernel/ns_last_pid needs root)")
        (pid, msgs), = by_pid.items()
        self.check_stream(pid, msgs)
        # Thread k called work() k + 1 times; an ended thread whose id
        # comes back must not have its counts replaced by the new one's.
        self.assertEqual(self.final_calls(msgs, "work"),
                         threads * (threads + 1) // 2)
        tids = {t[0] for m in msgs if m.type == DATA
                for t in m.body.get("threads", [])}
        self.assertGreaterEqual(len(tids), threads + 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
