"""Beyond one machine (issue 15): `mpprof collect` and `mpprof run --join`.

Ground truth is built into the targets: hosts_pool.py calls work() exactly
N times, hosts_mpi.py exactly 10 * (rank + 1) times on each rank.  Hosts
are simulated on loopback with MPPROF_HOST (the agent's name for its
host), so every test here runs without root; test_netns.py puts them in
network namespaces.
"""

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpptest  # noqa: E402

JOIN_RE = re.compile(r"^mpprof1,tcp://127\.0\.0\.1:(\d+),([0-9a-f]{64}),"
                     r"([0-9a-f]{32})$")
NETCLIENT = os.environ.get("MPPROF_NETCLIENT") or os.path.join(
    os.path.dirname(mpptest.BIN), "mpp_netclient")
SYS_PYTHON = "/usr/bin/python3"


class Collector:
    """A running `mpprof collect`, its join string read from stdout."""

    def __init__(self, test, *args, insecure=False):
        self.dir = mpptest.mktemp(test, "mpptest-collect-")
        self.out = os.path.join(self.dir, "out")
        self.join_file = os.path.join(self.dir, "join")
        argv = [mpptest.BIN, "collect", "-o", self.out, "--join-file",
                self.join_file] + list(args)
        if insecure:
            argv.append("--insecure")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     cwd=self.dir)
        test.addCleanup(self.kill)
        self.join = self.proc.stdout.readline().strip()
        if not self.join:
            self.proc.wait(timeout=30)
            raise AssertionError("collect printed no join string: %s"
                                 % self.proc.stderr.read())

    def wait(self, timeout=60):
        out, err = self.proc.communicate(timeout=timeout)
        self.stderr = err
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()

    def report(self, *args):
        r = mpptest.mpprof(["report", self.out, "--json"] + list(args))
        if r.returncode != 0:
            raise AssertionError("report failed: %s" % r.stderr)
        return json.loads(r.stdout)


def ncalls(doc, name):
    return sum(f["ncalls"] for f in doc["functions"] if f["name"] == name)


def run_join(join, args, host=None, python=None, timeout=120):
    env = dict(os.environ)
    if host is not None:
        env["MPPROF_HOST"] = host
    argv = [mpptest.BIN, "run", "-q", "--join", join,
            "--python", python or mpptest.PYTHON] + list(args)
    return subprocess.run(argv, capture_output=True, text=True, env=env,
                          timeout=timeout)


class JoinStringTest(unittest.TestCase):

    def test_join_string_first_line_and_private_file(self):
        c = Collector(self, "--idle", "1")
        m = JOIN_RE.match(c.join)
        self.assertIsNotNone(m, c.join)
        self.assertNotEqual(int(m.group(1)), 0)
        st = os.stat(c.join_file)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        with open(c.join_file) as f:
            self.assertEqual(f.read().strip(), c.join)
        # Nothing joined: one clear line, a non-zero status, no output.
        self.assertNotEqual(c.wait(), 0)
        self.assertIn("no valid profile data", c.stderr)
        self.assertFalse(os.path.exists(c.out))

    def test_insecure_join_string(self):
        c = Collector(self, "--idle", "1", insecure=True)
        self.assertRegex(c.join, r"^mpprof1,tcp://127\.0\.0\.1:\d+,insecure,"
                                 r"[0-9a-f]{32}$")
        c.wait()

    def test_bad_join_string_is_one_line(self):
        for bad in ["nonsense", "mpprof1,tcp://127.0.0.1:1,zz,00",
                    "mpprof1,ipc:///tmp/x,insecure," + "0" * 32,
                    "@/nonexistent/join"]:
            r = run_join(bad, [mpptest.target("hosts_pool.py"), "3"])
            self.assertEqual(r.returncode, 2, bad)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
            self.assertTrue(r.stderr.startswith("mpprof: --join"), r.stderr)

    def test_join_refuses_maps_off_in_one_line(self):
        env = dict(os.environ, MPPROF_MAPS="0")
        r = subprocess.run([mpptest.BIN, "run", "-q", "--join",
                            "mpprof1,tcp://127.0.0.1:1,insecure," + "0" * 32,
                            "--python", mpptest.PYTHON,
                            mpptest.target("hosts_pool.py"), "3"],
                           capture_output=True, text=True, env=env,
                           timeout=60)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertEqual(r.stderr.splitlines(),
                         ["mpprof: --join needs the shared mappings, which "
                          "MPPROF_MAPS=0 turns off: unset it"])

    def test_unreachable_aggregator_never_blocks_the_program(self):
        """Nothing listens: the program runs and ends as it would, and
        the run says in one note that its end was not confirmed."""
        join = "mpprof1,tcp://127.0.0.1:1,insecure," + "0" * 32
        t0 = time.monotonic()
        r = run_join(join, [mpptest.target("hosts_pool.py"), "17"])
        elapsed = time.monotonic() - t0
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(mpptest.parse_truth(r.stdout), {"work": 17})
        self.assertIn("did not confirm the end of the run", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        # The end waits 10 s for the aggregator, then 1 s to close.
        self.assertLess(elapsed, 30.0)

    def test_bad_collect_options(self):
        for args in (["--expect", "0"], ["--bind", "ipc:///tmp/x"],
                     ["--idle", "soon"], ["--bogus"], ["stray"],
                     ["--expect"]):
            r = mpptest.mpprof(["collect"] + args)
            self.assertEqual(r.returncode, 2, args)
            lines = r.stderr.strip().splitlines()
            # One line, and the pointer to --help.
            self.assertEqual(len(lines), 2, r.stderr)
            self.assertTrue(lines[0].startswith("mpprof: "), r.stderr)
            self.assertIn("--help", lines[1])


class TwoHostsTest(unittest.TestCase):
    """Two simulated hosts on loopback, each a Pool job: exact counts per
    host and in total, every process labelled with its host."""

    def check(self, insecure):
        c = Collector(self, "--expect", "2", "--idle", "60",
                      insecure=insecure)
        counts = {"alpha": 37, "beta": 53}
        for host, n in counts.items():
            r = run_join("@" + c.join_file,
                         [mpptest.target("hosts_pool.py"), str(n)], host=host)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(mpptest.parse_truth(r.stdout)["work"], n)
        self.assertEqual(c.wait(), 0, c.stderr)
        self.assertIn("stopped on the expected runs' end", c.stderr)
        doc = c.report()
        self.assertEqual(ncalls(doc, "work"), sum(counts.values()))
        self.assertEqual(doc["integrity"]["rejected"], 0)
        self.assertEqual(doc["integrity"]["processes_lost"], 0)
        hosts = {p["host"] for p in doc["processes"]}
        self.assertEqual(hosts, set(counts))
        for p in doc["processes"]:
            self.assertIsNone(p["rank"])
            # The simulated hosts share this kernel's clock: the true
            # offset is 0, so the estimate is within its stated error.
            clock = p["clock"]
            self.assertIsNotNone(clock)
            self.assertLess(clock["error_s"], 0.05)
            self.assertLessEqual(abs(clock["offset_s"]),
                                 clock["error_s"] + 0.001, clock)
        for host, n in counts.items():
            sub = c.report("--host", host)
            self.assertEqual(ncalls(sub, "work"), n, host)
            self.assertTrue(sub["processes"])
            self.assertTrue(all(p["host"] == host
                                for p in sub["processes"]))
        # The text report lists the processes host by host.
        text = mpptest.mpprof(["report", c.out]).stdout
        groups = re.findall(r"^host (\S+) \(clock aligned by ", text, re.M)
        self.assertEqual(groups, ["alpha", "beta"])
        # An unknown host is an error, not an empty report.
        r = mpptest.mpprof(["report", c.out, "--host", "gamma"])
        self.assertEqual(r.returncode, 1)

    def test_two_hosts_curve(self):
        self.check(insecure=False)

    def test_two_hosts_insecure(self):
        self.check(insecure=True)

    def test_ctrl_c_writes_what_arrived(self):
        c = Collector(self, "--idle", "600")
        r = run_join(c.join, [mpptest.target("hosts_pool.py"), "19"],
                     host="solo")
        self.assertEqual(r.returncode, 0, r.stderr)
        c.proc.send_signal(signal.SIGINT)
        self.assertEqual(c.wait(timeout=30), 0, c.stderr)
        self.assertIn("stopped on a signal: 1 run joined, 1 ended",
                      c.stderr)
        self.assertEqual(ncalls(c.report(), "work"), 19)

    def test_install_prefixes_merge_by_module(self):
        """Two hosts whose Pythons live under different prefixes (this
        suite's Python and Debian's): the standard library's files merge
        by module, so Pool's worker loop is one function run by the
        workers of both hosts."""
        if not os.access(SYS_PYTHON, os.X_OK) or \
                os.path.realpath(SYS_PYTHON) == \
                os.path.realpath(mpptest.PYTHON):
            self.skipTest("needs %s besides a Python of another prefix"
                          % SYS_PYTHON)
        why = mpptest.no_collector_for(SYS_PYTHON)
        if why:
            self.skipTest(why)
        c = Collector(self, "--expect", "2", "--idle", "60")
        for host, py, n in (("alpha", mpptest.PYTHON, 11),
                            ("beta", SYS_PYTHON, 13)):
            r = run_join(c.join, [mpptest.target("hosts_pool.py"), str(n)],
                         host=host, python=py)
            self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(c.wait(), 0, c.stderr)
        doc = c.report("--limit", "100000")
        self.assertEqual(ncalls(doc, "work"), 24)
        prefixed = [f["file"] for f in doc["functions"]
                    if "/lib/python3." in f["file"]]
        self.assertEqual(prefixed, [])
        workers = [f for f in doc["functions"]
                   if f["file"] == "<stdlib>/multiprocessing/pool.py"
                   and f["name"] == "worker"]
        self.assertEqual(len(workers), 1, workers)
        pool_workers = [p for p in doc["processes"]
                        if p["name"].startswith("ForkPoolWorker")]
        self.assertEqual({p["host"] for p in pool_workers},
                         {"alpha", "beta"})
        self.assertEqual(workers[0]["processes"], len(pool_workers))


class ClockTest(unittest.TestCase):
    """A host whose clock is 2 s ahead of the aggregator's and is stepped
    3 s further while it streams (MPPROF_TEST_CLOCK_SKEW moves every
    reading mpprof makes on that host, not Python's time.time()).  Its
    lock waits, noted on the kernel's clock by the job, land at their true
    moments on the aggregator's timeline before and after the step: the
    offset is read again while the run streams, not only at its start and
    end (either of which alone puts one side 3 s off)."""

    BASE_S = 2.0
    STEP_S = 3.0

    def test_clock_stepped_while_streaming(self):
        c = Collector(self, "--expect", "1", "--idle", "120")
        # The step comes once the job is surely running (under ASan on a
        # busy machine a start takes seconds), which then goes on 3.5 s
        # past it.
        at = time.time() + 8.0
        env = dict(os.environ, MPPROF_HOST="skewed",
                   MPPROF_TEST_CLOCK_SKEW="%d,%d,%d" % (
                       self.BASE_S * 1e9, self.STEP_S * 1e9, at * 1e9))
        r = subprocess.run([mpptest.BIN, "run", "-q", "--join", c.join,
                            "--python", mpptest.PYTHON,
                            mpptest.target("hosts_clock.py"),
                            repr(at + 3.5)],
                           capture_output=True, text=True, env=env,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        marks = mpptest.parse_truth(r.stdout)["marks"]
        self.assertEqual(c.wait(), 0, c.stderr)
        with open(os.path.join(c.out, "trace.json")) as f:
            trace = json.load(f)
        start_s = trace["otherData"]["start_ns"] / 1e9
        waits = sorted(e["ts"] / 1e6 + start_s for e in trace["traceEvents"]
                       if e.get("cat") == "lock_wait" and
                       e.get("dur", 0) >= 150000)
        self.assertEqual(len(waits), len(marks), (waits, marks))
        # Within a reading's period of the step a wait may be placed
        # between the two offsets; the rest must be where they were.
        before = [(m, w) for m, w in zip(marks, waits) if m < at - 1.5]
        after = [(m, w) for m, w in zip(marks, waits) if m > at + 1.5]
        if len(before) < 2:
            self.skipTest("the job started less than 2 s before the step "
                          "(a very busy machine): %r" % marks)
        self.assertGreaterEqual(len(after), 2, marks)
        for m, w in before + after:
            self.assertLess(abs(w - m), 0.25, (m, w, at))
        # The stated error is what a loopback round trip allows, and the
        # host's line says that the offset changed between readings.
        doc = c.report()
        for p in doc["processes"]:
            self.assertLess(p["clock"]["error_s"], 0.25, p["clock"])
        m = re.search(r"host skewed: .*clock ([-+]\d+\.\d+) ms from this "
                      r"one at the first of (\d+) readings, ([-+]\d+\.\d+) "
                      r"ms at the last", c.stderr)
        self.assertIsNotNone(m, c.stderr)
        self.assertAlmostEqual(float(m.group(1)) / 1e3, -self.BASE_S,
                               delta=0.25)
        self.assertAlmostEqual(float(m.group(3)) / 1e3,
                               -self.BASE_S - self.STEP_S, delta=0.25)
        self.assertGreaterEqual(int(m.group(2)), 4)


class ScriptMergeTest(unittest.TestCase):
    """The same job at different absolute paths on two hosts (its script
    and the module it imports from its own directory): each function is
    one entry named by its place beside the script, with the exact count
    of both hosts.  Host beta runs it through a symbolic link, so its
    script is named by the link and its module by the resolved path."""

    def test_same_script_at_different_paths_merges(self):
        tmp = mpptest.mktemp(self, "mpptest-script-")
        dirs = {"alpha": os.path.join(tmp, "home", "a", "job"),
                "beta": os.path.join(tmp, "srv", "b")}
        for d in dirs.values():
            os.makedirs(d)
            shutil.copy(mpptest.target("hosts_script.py"),
                        os.path.join(d, "job.py"))
            shutil.copy(mpptest.target("hosts_script_help.py"), d)
        link = os.path.join(tmp, "link")
        os.symlink(dirs["beta"], link)
        c = Collector(self, "--expect", "2", "--idle", "60")
        counts = {"alpha": 11, "beta": 13}
        for host, n in counts.items():
            script = (os.path.join(dirs["alpha"], "job.py")
                      if host == "alpha" else os.path.join(link, "job.py"))
            r = run_join(c.join, [script, str(n)], host=host)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(mpptest.parse_truth(r.stdout)["work"], n)
        self.assertEqual(c.wait(), 0, c.stderr)
        doc = c.report("--limit", "100000")
        for name, file in (("work", "<main>/job.py"),
                           ("square", "<main>/hosts_script_help.py")):
            entries = [f for f in doc["functions"] if f["name"] == name]
            self.assertEqual([(f["file"], f["ncalls"]) for f in entries],
                             [(file, sum(counts.values()))], entries)
        self.assertEqual([f["file"] for f in doc["functions"]
                          if f["file"].startswith(tmp)], [])
        for host, n in counts.items():
            sub = c.report("--host", host)
            self.assertEqual(ncalls(sub, "work"), n, host)
            self.assertEqual(ncalls(sub, "square"), n, host)


def _have_mpi():
    if shutil.which("mpirun") is None:
        return "mpirun is not installed (Debian: openmpi-bin)"
    why = mpptest.no_collector_for(SYS_PYTHON)
    if why:
        return why
    r = subprocess.run([SYS_PYTHON, "-c", "import mpi4py"],
                       capture_output=True)
    if r.returncode != 0:
        return "mpi4py is not installed for %s (Debian: python3-mpi4py)" \
            % SYS_PYTHON
    return None


class MpiTest(unittest.TestCase):
    """Acceptance 1: mpirun -n 4 mpprof run --join ... python3 job.py."""

    def test_mpirun_four_ranks_exact_per_rank(self):
        why = _have_mpi()
        if why:
            self.skipTest(why)
        c = Collector(self, "--expect", "4", "--idle", "120")
        # The form the launcher is given: the interpreter as a word.
        argv = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-n", "4",
                mpptest.BIN, "run", "-q", "--join", c.join,
                SYS_PYTHON, mpptest.target("hosts_mpi.py")]
        env = dict(os.environ, OMPI_MCA_plm_rsh_agent="false")
        r = subprocess.run(argv, capture_output=True, text=True, env=env,
                           timeout=300)
        if r.returncode != 0 and "collector" in r.stderr:
            self.fail("mpprof has no collector for %s: %s"
                      % (SYS_PYTHON, r.stderr))
        self.assertEqual(r.returncode, 0, r.stderr)
        # The ranks' lines may interleave on mpirun's stdout.
        truth = {}
        for m in re.finditer(r'\{"rank\d+": \d+\}', r.stdout):
            truth.update(json.loads(m.group(0)))
        self.assertEqual(truth, {"rank%d" % k: 10 * (k + 1)
                                 for k in range(4)})
        self.assertEqual(c.wait(), 0, c.stderr)
        doc = c.report()
        self.assertEqual(ncalls(doc, "work"), 100, json.dumps(
            {"processes": doc["processes"], "integrity": doc.get("integrity"),
             "run": r.stderr, "collect": c.stderr}, indent=1))
        ranks = sorted(p["rank"] for p in doc["processes"])
        self.assertEqual(ranks, [0, 1, 2, 3])
        for p in doc["processes"]:
            self.assertIsNotNone(p["host"])
        for k in range(4):
            sub = c.report("--rank", str(k))
            self.assertEqual(ncalls(sub, "work"), 10 * (k + 1), k)
            self.assertEqual([p["rank"] for p in sub["processes"]], [k])


DASK_WORKER = "/usr/bin/dask-worker"


class ConsoleScriptTest(unittest.TestCase):
    """`mpprof run --join J dask-worker ...`: Debian's console script,
    found in PATH, run by the Python of its #! line."""

    def test_dask_worker_console_script_joins(self):
        if not os.access(DASK_WORKER, os.X_OK):
            self.skipTest("%s is not installed (Debian: python3-distributed)"
                          % DASK_WORKER)
        with open(DASK_WORKER) as f:
            shebang = f.readline()[2:].split()
        why = mpptest.no_collector_for(shebang[0]) if shebang else \
            "%s has no #! line" % DASK_WORKER
        if why:
            self.skipTest(why)
        env = dict(os.environ, PATH="/usr/bin" + os.pathsep +
                   os.environ.get("PATH", ""))
        plain = subprocess.run(["dask-worker", "--version"],
                               capture_output=True, text=True, env=env,
                               timeout=120)
        version = subprocess.run(
            [shebang[0], "-c", "import platform; "
             "print(platform.python_version())"],
            capture_output=True, text=True, timeout=60).stdout.strip()
        c = Collector(self, "--expect", "1", "--idle", "120")
        r = subprocess.run([mpptest.BIN, "run", "-q", "--join", c.join,
                            "dask-worker", "--version"],
                           capture_output=True, text=True, env=env,
                           timeout=120)
        self.assertEqual((r.returncode, r.stdout, r.stderr),
                         (plain.returncode, plain.stdout, plain.stderr))
        self.assertEqual(c.wait(), 0, c.stderr)
        doc = c.report()
        # The Python of the #! line ran it (not python3 from PATH), with
        # the script's path as sys.argv[0].
        self.assertEqual(doc["python"], version)
        self.assertEqual(len(doc["processes"]), 1, doc["processes"])
        self.assertIsNotNone(doc["processes"][0]["host"])
        mods = [(f["file"], f["ncalls"]) for f in doc["functions"]
                if f["name"] == "<module>" and
                (f["file"].endswith("/dask-worker") or
                 f["file"].endswith("distributed/cli/dask_worker.py"))]
        self.assertEqual(sorted(n for _, n in mods), [1, 1], mods)


class HostileTest(unittest.TestCase):
    """Acceptance 4: wrong key refused, wrong token and garbage rejected,
    all counted; a flooding client does not starve a real run."""

    def client(self, join, mode, n, wait=True):
        argv = [NETCLIENT, join, mode, str(n)]
        if not wait:
            return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return int(r.stdout)

    def test_wrong_key_token_and_garbage_are_counted(self):
        c = Collector(self, "--expect", "1", "--idle", "60")
        self.client(c.join, "wrongkey", 3)
        self.assertEqual(self.client(c.join, "wrongtoken", 5), 5)
        self.assertEqual(self.client(c.join, "garbage", 10), 21)
        r = run_join(c.join, [mpptest.target("hosts_pool.py"), "29"],
                     host="honest")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(c.wait(), 0, c.stderr)
        doc = c.report()
        self.assertEqual(ncalls(doc, "work"), 29)
        # 5 envelopes with a wrong token, 10 junk frames, 10 junk wire
        # messages behind good envelopes, one message of three parts.
        self.assertEqual(doc["integrity"]["rejected"], 5 + 21)
        self.assertGreaterEqual(doc["integrity"]["refused_connections"], 1)
        self.assertEqual({p["host"] for p in doc["processes"]}, {"honest"})
        self.assertRegex(c.stderr, r"[1-9]\d* connections? refused, 26 "
                                   r"messages rejected")

    def test_flood_does_not_starve_a_real_run(self):
        c = Collector(self, "--expect", "1", "--idle", "60")
        flood = self.client(c.join, "flood", 120, wait=False)

        def stop():
            if flood.poll() is None:
                flood.kill()
            flood.communicate()
        self.addCleanup(stop)
        time.sleep(1.0)
        t0 = time.monotonic()
        r = run_join(c.join, [mpptest.target("hosts_pool.py"), "41"],
                     host="victim")
        self.assertEqual(r.returncode, 0, r.stderr)
        # The collector stops on the run's end while the flood goes on.
        self.assertEqual(c.wait(timeout=30), 0, c.stderr)
        elapsed = time.monotonic() - t0
        self.assertIsNone(flood.poll(), "the flood ended before the run did")
        self.assertLess(elapsed, 60.0)
        doc = c.report()
        self.assertEqual(ncalls(doc, "work"), 41)
        self.assertGreater(doc["integrity"]["rejected"], 0)
        self.assertEqual([p["host"] for p in doc["processes"]
                          if p["host"] != "victim"], [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
