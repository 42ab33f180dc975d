"""Behaviour that changed across Python versions (issue 11), on whatever
interpreter the suite runs with; the matrix (scripts/matrix.sh) runs it on
3.13, 3.14 and 3.15, where the new behaviour is asserted to happen, so
the tests cannot pass by not exercising it.

  default   3.14 made forkserver the default start method on Linux: a Pool
            of the default method counts exactly, and its workers carry
            the method the interpreter reports
  atexit    since 3.13 a fork-started child runs its exit handlers before
            it ends: what they call is counted, and the run prints what a
            plain run prints
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpptest  # noqa: E402


def interpreter_version():
    p = mpptest.run_python(
        ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
    major, minor = p.stdout.split(".")
    return int(major), int(minor)


VERSION = interpreter_version()
TARGET = mpptest.target("ver_behaviour.py")


def without_pids(text):
    return [line for line in text.splitlines()
            if not line.startswith(mpptest.TRUTH_PREFIX)]


class DefaultStartMethod(unittest.TestCase):
    N = 40

    def test_pool_of_the_default_method(self):
        r = mpptest.run([TARGET, "default", str(self.N)], test=self)
        self.assertEqual(r.returncode, 0, r.describe())
        truth = r.truth()
        want = "forkserver" if VERSION >= (3, 14) else "fork"
        self.assertEqual(truth["method"], want,
                         "Python %d.%d's default start method" % VERSION)
        rep = mpptest.report_json(r.outdir)
        self.assertEqual(mpptest.json_ncalls(rep, "ver_behaviour.py", "work"),
                         self.N, r.describe())
        procs = {p["pid"]: p for p in rep["processes"]}
        for pid in truth["workers"]:
            self.assertIn(pid, procs, rep["processes"])
            self.assertEqual(procs[pid]["start_method"], want, procs[pid])
            self.assertEqual(procs[pid]["role"], "worker", procs[pid])
        if want == "forkserver":
            servers = [p for p in rep["processes"]
                       if p["role"] == "helper" and
                       p["start_method"] != "forkserver"]
            self.assertTrue(servers, rep["processes"])


class ForkChildExitHandlers(unittest.TestCase):
    K = 123

    def test_exit_handlers_counted(self):
        tmp = mpptest.mktemp(self)
        args = [TARGET, "atexit", str(self.K), os.path.join(tmp, "plain")]
        plain = mpptest.run_python(args)
        self.assertEqual(plain.returncode, 0, plain.stderr)
        r = mpptest.run([TARGET, "atexit", str(self.K),
                         os.path.join(tmp, "profiled")], test=self)
        self.assertEqual(r.returncode, 0, r.describe())
        truth = r.truth()
        self.assertEqual(truth["tail_calls"],
                         self.K if VERSION >= (3, 13) else 0,
                         "exit handlers of a fork child on Python %d.%d"
                         % VERSION)
        self.assertEqual(truth, {**mpptest.parse_truth(plain.stdout),
                                 "workers": truth["workers"]})
        self.assertEqual(without_pids(r.stdout), without_pids(plain.stdout))
        self.assertEqual(r.stderr, plain.stderr)
        rep = mpptest.report_json(r.outdir)
        self.assertEqual(mpptest.json_ncalls(rep, "ver_behaviour.py", "tail"),
                         truth["tail_calls"], r.describe())
        [child] = [p for p in rep["processes"]
                   if p["pid"] == truth["workers"][0]]
        self.assertEqual(child["exit"], "ok", child)


if __name__ == "__main__":
    mpptest.main()
