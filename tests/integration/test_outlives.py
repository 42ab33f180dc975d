"""Collector state that outlives its process (issue 12).

The collectors keep their tables in shared mappings that the launcher's
agent reads, so a profiled process needs no socket, no thread and no signal
handler, and what it counted survives a SIGKILL.  Each test compares with
ground truth: a plain run of the same program (output, exit status, what
the process sees of itself, how long Pool.terminate() takes), call counts
known by construction, and times the program measured itself.

  kill      a worker SIGKILLs itself inside an open frame: every call is
            counted, the open frames carry its lifetime, it is "signal:9"
  loky      joblib's default backend, and its fork-close-exec pattern
            without joblib, behave as plain and count exactly
  plain     threads, signal handlers, os functions, warnings: as plain;
            Pool.terminate() of workers inside a long C call as fast
  orphan    a child started just before its parent exits is profiled
"""

import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpptest  # noqa: E402

# The agent reads the mappings the launcher makes by default; the old
# socket path (MPPROF_MAPS=0) is what runs when none can be made.
MAPS = {}
SOCKETS = {"MPPROF_MAPS": "0"}
DEBIAN_PYTHON = mpptest.debian_python()


def procs_by_pid(rep):
    return {p["pid"]: p for p in rep["processes"]}


class Kill(unittest.TestCase):
    SURVIVOR = 200_000
    CRASHER = 1_000_000

    def test_sigkill_loses_nothing(self):
        r = mpptest.run([mpptest.target("out_kill.py"), str(self.SURVIVOR),
                         str(self.CRASHER)], test=self, extra_env=MAPS)
        self.assertEqual(r.returncode, 0, r.describe())
        truth = r.truth()
        self.assertEqual(truth["crasher_exitcode"], -9, r.describe())
        rep = mpptest.report_json(r.outdir)
        self.assertEqual(mpptest.json_ncalls(rep, "out_kill.py", "unit"),
                         2 * self.SURVIVOR + self.CRASHER, r.describe())
        self.assertEqual(mpptest.json_ncalls(rep, "out_kill.py", "crash"), 1)
        crasher = procs_by_pid(rep).get(truth["crasher_pid"])
        self.assertIsNotNone(crasher, rep["processes"])
        self.assertEqual(crasher["exit"], "signal:9", crasher)
        # crash() never returned: its cumulative time is the time from its
        # entry to the kill, which the program bounds from both sides.
        lifetime = truth["crash_dead"] - truth["crash_entered"]
        [crash] = mpptest.json_functions(rep, "out_kill.py", "crash")
        self.assertGreater(lifetime, 0.5, truth)
        self.assertLess(abs(crash["cumtime_s"] - lifetime), 0.2 * lifetime,
                        (crash, lifetime))


class Loky(unittest.TestCase):
    def test_joblib_loky(self):
        if not os.access(DEBIAN_PYTHON, os.X_OK):
            self.skipTest("no %s" % DEBIAN_PYTHON)
        probe = subprocess.run(
            [DEBIAN_PYTHON, "-c", "import joblib"], capture_output=True)
        if probe.returncode != 0:
            self.fail("python3-joblib is missing for %s (scripts/deps.sh "
                      "--test installs it)" % DEBIAN_PYTHON)
        script = mpptest.target("out_loky.py")
        plain = subprocess.run([DEBIAN_PYTHON, script],
                                       capture_output=True, text=True,
                                       timeout=300)
        r = mpptest.run([script], test=self, python=DEBIAN_PYTHON,
                        extra_env=MAPS, timeout=300)
        self.assertEqual((r.returncode, r.stdout),
                         (plain.returncode, plain.stdout), r.describe())
        rep = mpptest.report_json(r.outdir)
        self.assertEqual(mpptest.json_ncalls(rep, "out_loky.py", "f"), 1000,
                         r.describe())

    def check_fdclose(self, mode, n=500):
        script = mpptest.target("out_fdclose.py")
        plain = mpptest.run_python([script, mode, str(n)])
        r = mpptest.run([script, mode, str(n)], test=self, extra_env=MAPS)
        self.assertEqual(plain.returncode, 0, plain.stderr)
        self.assertIn("child ok", plain.stdout)
        self.assertEqual((r.returncode, r.stdout),
                         (plain.returncode, plain.stdout), r.describe())
        rep = mpptest.report_json(r.outdir)
        self.assertEqual(
            mpptest.json_ncalls(rep, "out_fdclose.py", "closed_work"), n,
            r.describe())

    def test_fork_close_exec(self):
        self.check_fdclose("exec")

    def test_fork_close_continue(self):
        self.check_fdclose("continue")


class Plain(unittest.TestCase):
    def test_observes_itself_as_plain(self):
        script = mpptest.target("out_plain.py")
        # Every warning shown, so none that only a profiled run causes can
        # hide behind the default filters.
        env = dict(os.environ, PYTHONWARNINGS="default")
        plain = mpptest.run_python([script], env=env)
        r = mpptest.run([script], test=self, env=env, extra_env=MAPS)
        self.assertEqual(plain.returncode, 0, plain.stderr)
        self.assertEqual(r.returncode, 0, r.describe())
        self.assertEqual(r.stdout, plain.stdout)
        self.assertEqual(r.stderr, plain.stderr)
        # Nor does its profile hold calls it never made: the fork child
        # once showed os.environ's __setitem__, encode and posix.putenv,
        # the collector's own export of the child's pid.
        rep = mpptest.report_json(r.outdir, ["--limit", "100000"])
        funcs = [(f.get("file", ""), f.get("name", ""))
                 for f in rep.get("functions", [])]
        self.assertIn("main", [n for _, n in funcs], funcs)
        # os.environ's own methods ("<frozen os>", or os.py where the
        # standard library is not frozen); enum's __setitem__, which
        # importing signal calls, is the program's.
        self.assertFalse(
            [(fl, n) for fl, n in funcs
             if "putenv" in n or (n in ("__setitem__", "encode") and
                                  (fl == "<frozen os>" or
                                   fl.endswith("/os.py")))], funcs)

    @unittest.skipIf(os.environ.get("MPPTEST_SANITIZED") == "1",
                     "a time against a plain run; the ASan collector is "
                     "many times slower than mpprof's")
    def test_terminate_long_c_call(self):
        script = mpptest.target("out_terminate.py")

        def took(p):
            m = re.search(r"terminate_s ([0-9.]+)", p.stdout)
            self.assertIsNotNone(m, p.stdout + p.stderr)
            return float(m.group(1))
        # Alternating runs, the best of each side: one slow run on a busy
        # machine says nothing about the profiler.
        plain, profiled = [], []
        for _ in range(2):
            plain.append(took(mpptest.run_python([script], timeout=300)))
            r = mpptest.run([script], test=self, extra_env=MAPS, timeout=300)
            self.assertEqual(r.returncode, 0, r.describe())
            profiled.append(took(r))
        self.assertLess(min(profiled), min(plain) + 0.1, (plain, profiled))


class Orphan(unittest.TestCase):
    def check(self, env):
        n = 100
        r = mpptest.run([mpptest.target("out_orphan.py"), str(n)], test=self,
                        extra_env=env)
        self.assertEqual(r.returncode, 0, r.describe())
        rep = mpptest.report_json(r.outdir)
        self.assertEqual(len(rep["processes"]), 2, rep["processes"])
        self.assertEqual(
            mpptest.json_ncalls(rep, "out_orphan.py", "orphan_work"), n)

    def test_child_started_before_parent_exits(self):
        self.check(MAPS)

    def test_child_started_before_parent_exits_sockets(self):
        self.check(SOCKETS)


if __name__ == "__main__":
    mpptest.main()
