"""Beyond one machine across real network stacks (issue 15, acceptance 2
and 3): hosts are network namespaces on a bridge (netns.py), the
collector listens on the bridge's address in the root namespace, and each
host's runs join it from their own namespace.  Needs root and iproute2;
the Dask test also needs Debian's python3-distributed.

Ground truth: the client maps mpptest_task over N items, so it is called
exactly N times across the workers; hosts_cut.py calls work() exactly K
times before it signals, and nothing more before the link is cut.
"""

import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpptest  # noqa: E402
import netns  # noqa: E402
from test_hosts import Collector, ncalls  # noqa: E402

SYS_PYTHON = "/usr/bin/python3"


def _why_not():
    why = netns.unavailable()
    if why:
        return why
    return None


def _no_dask():
    why = mpptest.no_collector_for(SYS_PYTHON)
    if why:
        return why
    r = subprocess.run([SYS_PYTHON, "-c", "import distributed"],
                       capture_output=True)
    if r.returncode != 0:
        return ("dask.distributed is not installed for %s (Debian: "
                "python3-distributed)" % SYS_PYTHON)
    return None


class Group:
    """A process started in its own session, ended at cleanup: SIGTERM,
    then SIGKILL to its whole group."""

    def __init__(self, test, argv, env=None):
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     env=env, start_new_session=True)
        test.addCleanup(self.stop)

    def stop(self, grace=30):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        out, err = self.proc.communicate()
        return self.proc.returncode, out, err


def env_for(host, **extra):
    env = dict(os.environ, MPPROF_HOST=host)
    env.update(extra)
    return env


@unittest.skipIf(_why_not(), _why_not())
class NetnsTest(unittest.TestCase):

    def hosts(self, n):
        h = netns.Hosts(n)
        h.__enter__()
        self.addCleanup(h.close)
        return h

    def test_dask_two_workers_exact(self):
        why = _no_dask()
        if why:
            self.skipTest(why)
        h = self.hosts(3)
        c = Collector(self, "--bind", "tcp://%s:0" % h.gateway,
                      "--expect", "2", "--idle", "240")
        self.assertIn(h.gateway, c.join)
        sched = "tcp://%s:8786" % h.ip[0]
        pypath = mpptest.TARGETS
        # The scheduler needs the task's module too: since distributed
        # 2023.4 (Debian 13's) it unpickles the task graph itself.
        Group(self, h.argv(0, [SYS_PYTHON, "-m",
                               "distributed.cli.dask_scheduler", "--host",
                               h.ip[0], "--port", "8786",
                               "--no-dashboard"]),
              env_for("h0", PYTHONPATH=pypath))
        workers = []
        for k in (1, 2):
            argv = h.argv(k, [mpptest.BIN, "run", "-q", "--join", c.join,
                              "--python", SYS_PYTHON, "-m",
                              "distributed.cli.dask_worker", sched,
                              "--host", h.ip[k], "--no-nanny", "--nthreads",
                              "1", "--no-dashboard", "--name",
                              "worker-h%d" % k])
            workers.append(Group(self, argv, env_for(
                "h%d" % k, PYTHONPATH=pypath)))
        n = 120
        client = subprocess.run(
            h.argv(0, [SYS_PYTHON,
                       os.path.join(mpptest.TARGETS,
                                    "hosts_dask_client.py"),
                       sched, str(n)]),
            capture_output=True, text=True, timeout=400,
            env=dict(os.environ, PYTHONPATH=pypath))
        self.assertEqual(client.returncode, 0, client.stderr[-3000:])
        truth = mpptest.parse_truth(client.stdout)
        self.assertEqual(truth, {"mpptest_task": n, "workers": 2})
        for w in workers:
            w.proc.wait(timeout=120)
        self.assertEqual(c.wait(timeout=120), 0, c.stderr)
        doc = c.report()
        self.assertEqual(ncalls(doc, "mpptest_task"), n)
        by_host = {}
        for p in doc["processes"]:
            by_host.setdefault(p["host"], []).append(p)
        self.assertEqual(set(by_host), {"h1", "h2"})
        # Each worker is labelled with its Dask name (--name).
        for host in ("h1", "h2"):
            self.assertEqual({p["worker"] for p in by_host[host]},
                             {"worker-" + host})
        total = 0
        for host in ("h1", "h2"):
            sub = c.report("--host", host)
            self.assertTrue(sub["processes"])
            total += ncalls(sub, "mpptest_task")
        self.assertEqual(total, n)

    def test_cut_host_reports_what_arrived(self):
        h = self.hosts(2)
        # Longer than the wait before the cut plus a run's start-up, so
        # that the idle timeout only ends the collection after both.
        idle = 15
        c = Collector(self, "--bind", "tcp://%s:0" % h.gateway,
                      "--expect", "2", "--idle", str(idle))
        tmp = mpptest.mktemp(self)
        marker = os.path.join(tmp, "marker")
        k = 77
        cut = Group(self, h.argv(1, [
            mpptest.BIN, "run", "-q", "--join", c.join, "--python",
            mpptest.PYTHON, mpptest.target("hosts_cut.py"), str(k),
            marker]), env_for("cut"))
        deadline = time.monotonic() + 60
        while not os.path.exists(marker):
            self.assertLess(time.monotonic(), deadline, "no marker")
            self.assertIsNone(cut.proc.poll(), cut.proc.stderr)
            time.sleep(0.05)
        # Many read intervals (100 ms), more on a sanitized build: the
        # calls have been read and sent by now.
        time.sleep(5.0 if os.environ.get("MPPTEST_SANITIZED") else 2.5)
        h.cut(1)
        r = subprocess.run(h.argv(0, [
            mpptest.BIN, "run", "-q", "--join", c.join, "--python",
            mpptest.PYTHON, mpptest.target("hosts_pool.py"), "23"]),
            capture_output=True, text=True, timeout=120,
            env=env_for("whole"))
        self.assertEqual(r.returncode, 0, r.stderr)
        t0 = time.monotonic()
        # The aggregator does not hang: it stops on the idle timeout.
        self.assertEqual(c.wait(timeout=idle + 30), 0, c.stderr)
        self.assertLess(time.monotonic() - t0, idle + 15)
        self.assertIn("stopped on the idle timeout", c.stderr)
        self.assertIn("2 runs joined, 1 ended", c.stderr)
        whole = c.report("--host", "whole")
        self.assertEqual(ncalls(whole, "work"), 23)
        self.assertTrue(all(p["exit"] == "ok" or p["exit"].startswith(
            "signal") for p in whole["processes"]))
        part = c.report("--host", "cut")
        self.assertEqual(ncalls(part, "work"), k)
        self.assertEqual([p["exit"] for p in part["processes"]], ["lost"])
        # Its clock was measured when it joined, before the cut.
        self.assertIsNotNone(part["processes"][0]["clock"])
        doc = c.report()
        self.assertEqual(ncalls(doc, "work"), 23 + k)
        self.assertEqual(doc["integrity"]["processes_lost"], 1)

    def test_link_restored_loses_nothing(self):
        """A link down for a while, then up again: the agent reconnects
        and what was queued meanwhile arrives; nothing is lost."""
        h = self.hosts(1)
        c = Collector(self, "--bind", "tcp://%s:0" % h.gateway,
                      "--expect", "1", "--idle", "60")
        tmp = mpptest.mktemp(self)
        marker, go = os.path.join(tmp, "marker"), os.path.join(tmp, "go")
        k, k2 = 31, 45
        run = Group(self, h.argv(0, [
            mpptest.BIN, "run", "--join", c.join, "--python",
            mpptest.PYTHON, mpptest.target("hosts_pause.py"), str(k),
            marker, go, str(k2)]), env_for("flaky"))
        deadline = time.monotonic() + 60
        while not os.path.exists(marker):
            self.assertLess(time.monotonic(), deadline, "no marker")
            time.sleep(0.05)
        h.cut(0)
        # The rest of the run happens while the link is down: the agent
        # queues, the run ends and waits (bounded) for its queue.
        with open(go, "w"):
            pass
        time.sleep(3.0)
        self.assertIsNone(c.proc.poll(), "collect stopped during the cut")
        h.restore(0)
        rc, out, err = run.stop(grace=60) if run.proc.wait(timeout=60) \
            is not None else (None, "", "")
        self.assertEqual(rc, 0, err)
        self.assertEqual(c.wait(timeout=60), 0, c.stderr)
        doc = c.report()
        self.assertEqual(ncalls(doc, "work"), k + k2, (err, c.stderr))
        self.assertEqual([p["exit"] for p in doc["processes"]], ["ok"])
        self.assertEqual(doc["integrity"]["processes_lost"], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
