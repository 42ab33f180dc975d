"""Multi-process acceptance: exact counts, categories and process records
across fork, spawn, forkserver and subprocess-launched Pythons.

Groups and the issue each one checks:

  TestStartMethods  -- issue "multiprocess collection: exact counts for
      fork, spawn and forkserver" (design.md "Correctness": call counts are
      exact across every process; Pool with `with Pool() as p:` i.e.
      terminate(), Process, ProcessPoolExecutor, a pool nested in a child,
      a subprocess-launched python that itself runs a pool).  For each:
        * `work` is called N=137 times in total: ncalls == pcalls == 137 in
          the merged profile.prof and ncalls == 137 in report --json;
        * report --json lists exactly the Python processes the program
          created (pids recorded by the processes themselves, including the
          forkserver and resource-tracker helpers), each with the ppid it
          saw itself (0 allowed for the root), its multiprocessing name, and
          its start method (main / fork / spawn / forkserver / exec);
        * integrity: no rejected message, no sequence gap, no lost process.
  TestScale  -- same issue, stress: 64 short-lived processes; a Pool of 16.
  TestSigkill  -- issue "lost workers" (design.md: a worker killed by
      SIGKILL loses at most its last flush interval; the report marks it
      `lost` or `signal:9` and says so; nothing else is lost): the other
      processes' counts are exact; the killed worker's calls made well
      before it died are there; it is marked; integrity.processes_lost == 1.

Ground truth comes from targets/t_mp.py itself (see its docstring).
"""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpptest  # noqa: E402

TARGET = "t_mp.py"
N = 137
METHODS = ("fork", "spawn", "forkserver")


class MpCase(unittest.TestCase):
    maxDiff = 6000

    def run_scenario(self, scenario, method, n=N, timeout=120):
        d = mpptest.mktemp(self)
        truth_file = os.path.join(d, "truth.jsonl")
        r = mpptest.run([mpptest.target(TARGET), scenario, method, str(n)],
                        test=self, extra_env={"MPPTEST_TRUTH_FILE": truth_file},
                        timeout=timeout)
        recs = []
        if os.path.exists(truth_file):
            with open(truth_file) as f:
                recs = [json.loads(l) for l in f if l.strip()]
        by_pid = {}
        for rec in recs:
            by_pid.setdefault(rec["pid"], rec)
        return r, by_pid

    def check_run(self, r):
        self.assertEqual(r.returncode, 0, r.describe())
        self.assertTrue(os.path.isfile(r.path("profile.prof")), r.describe())

    def check_counts(self, r, n, name="work"):
        st = mpptest.load_stats(r)
        keys = mpptest.find_keys(st, TARGET, name)
        self.assertTrue(keys, "%s missing from profile.prof" % name)
        self.assertEqual(len(keys), 1,
                         "one function split over several keys: %r" % keys)
        got = mpptest.ncalls(st, TARGET, name)
        if got != n:
            self.fail("profile.prof ncalls of %s: %d, not %d\n%s" % (
                name, got, n, mpptest.profile_note(r.outdir)))
        self.assertEqual(mpptest.pcalls(st, TARGET, name), n,
                         "profile.prof primitive calls of %s" % name)
        rep = mpptest.report_json(r.outdir, ["--limit", "100000"])
        self.assertEqual(mpptest.json_ncalls(rep, TARGET, name), n,
                         "report --json ncalls of %s" % name)
        return st, rep

    def check_processes(self, r, rep, truth, lost=()):
        procs = rep.get("processes", [])
        got = {}
        for p in procs:
            self.assertNotIn(p["pid"], got, "pid listed twice: %r" % p)
            got[p["pid"]] = p
        want = set(truth)
        self.assertEqual(
            sorted(got), sorted(want),
            "processes in report --json vs processes the program created:\n"
            "  missing: %r\n  extra: %r\n  truth: %r" % (
                sorted(want - set(got)),
                [got[p] for p in sorted(set(got) - want)],
                [truth[p] for p in sorted(want - set(got))]))
        problems = []
        for pid, t in sorted(truth.items()):
            p = got[pid]
            if t["ppid"] in truth:
                if p.get("ppid") != t["ppid"]:
                    problems.append("pid %d (%s): ppid %r, want %d" % (
                        pid, t["role"], p.get("ppid"), t["ppid"]))
            elif p.get("ppid") not in (0, t["ppid"]):
                problems.append("pid %d (%s, root): ppid %r, want 0" % (
                    pid, t["role"], p.get("ppid")))
            if t.get("name") and p.get("name") != t["name"]:
                problems.append("pid %d (%s): name %r, want %r" % (
                    pid, t["role"], p.get("name"), t["name"]))
            if t.get("method") and p.get("start_method") != t["method"]:
                problems.append("pid %d (%s): start_method %r, want %r" % (
                    pid, t["role"], p.get("start_method"), t["method"]))
            if pid in lost:
                if p.get("exit") not in ("lost", "signal:9"):
                    problems.append("pid %d (%s): exit %r, want lost or signal:9"
                                    % (pid, t["role"], p.get("exit")))
            elif t["role"] in ("main", "process", "many", "executor-worker",
                               "nested-child", "exec-child"):
                if p.get("exit") != "ok":
                    problems.append("pid %d (%s): exit %r, want ok" % (
                        pid, t["role"], p.get("exit")))
        self.assertEqual(problems, [], "\n".join(problems))
        integ = rep.get("integrity", {})
        self.assertEqual(integ.get("rejected"), 0, integ)
        self.assertEqual(integ.get("seq_gaps"), 0, integ)
        # A killed process is lost with sockets (MPPROF_MAPS=0); the agent
        # reads its state after the death and knows the signal.
        nlost = sum(1 for p in procs
                    if p["pid"] in lost and p.get("exit") == "lost")
        self.assertEqual(integ.get("processes_lost"), nlost, integ)

    def scenario(self, scenario, method, n=N):
        r, truth = self.run_scenario(scenario, method, n)
        self.check_run(r)
        self.assertEqual(mpptest.parse_truth(r.stdout).get("n"), n, r.describe())
        _st, rep = self.check_counts(r, n)
        self.check_processes(r, rep, truth)
        self.assertEqual(rep.get("exit_status"), 0)
        return r, truth, rep


def _add_method_tests(cls):
    for method in METHODS:
        for scenario in ("pool", "process", "executor", "nested", "subprocess"):
            def t(self, scenario=scenario, method=method):
                self.scenario(scenario, method)
            t.__name__ = "test_%s_%s" % (scenario, method)
            t.__doc__ = "%s with start method %s: exact counts, processes" % (
                scenario, method)
            setattr(cls, t.__name__, t)
    return cls


@_add_method_tests
class TestStartMethods(MpCase):
    pass


class TestScale(MpCase):
    def test_64_short_lived_processes(self):
        self.scenario("many", "fork")

    def test_pool_of_16(self):
        self.scenario("pool16", "fork")

    def test_64_short_lived_processes_forkserver(self):
        self.scenario("many", "forkserver")


class TestSigkill(MpCase):
    def test_worker_sigkilled(self):
        for method in ("fork", "spawn"):
            with self.subTest(method=method):
                r, truth = self.run_scenario("sigkill", method)
                self.check_run(r)
                t = mpptest.parse_truth(r.stdout)
                doomed = t.get("doomed_pid")
                self.assertIn(doomed, truth, r.describe())
                # The surviving processes' work is exact ...
                st, rep = self.check_counts(r, N)
                # ... and the doomed one's calls were flushed long before it
                # died (it kept calling spin_step for several intervals).
                self.assertEqual(mpptest.ncalls(st, TARGET, "doomed_work"),
                                 t["doomed_calls"])
                self.check_processes(r, rep, truth, lost=(doomed,))
                p = mpptest.mpprof(["report", r.outdir])
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertRegex(p.stdout, r"(?i)lost|signal[: ]?9|SIGKILL",
                                 "the text report does not say a process was lost")


if __name__ == "__main__":
    mpptest.main()
