"""The report's story (issue 13): compute measured, and a verdict checked
on scenarios whose right answer is known by construction.

  TestCompute   a single-process, CPU-bound script that times itself from
                its first line to its last: compute_s is that time within
                10%, and start-up (which begins at the exec, before the
                hook measured anything) is not subtracted from it again.
  TestShim      python3 as a wrapper script (like pyenv's shim) that sleeps
                3 s, then execs the real interpreter: the main process's
                start-up is timed from the real interpreter's exec, so it
                holds none of the sleep, and the target still gets the
                wrapper's environment.
  TestPyenvShim python3 on PATH a pyenv shim (as here): the main
                process's start-up within 30 ms of start-up with the real
                interpreter, best of 8 alternating runs each, while the
                shim itself costs far more (about 500 ms here).
  TestVerdict   report --json's verdict, roles and the split of the time
                outside categories (compute_s, idle_s, other_wait_s), and
                the text report's "Leading cost" agreeing with it:
                - the CPU-bound single process: leading "compute", parallel
                  false, no hint (no advice about workers), compute_s within
                  10% of the script's own CPU time;
                - a fork Pool whose tasks carry 8 MiB payloads of rows:
                  moving data ("serialisation") leads (not lock wait),
                  parallel true, with the hint to send less per task; its
                  seconds are pickling, unpickling, the pipe transfers
                  (both ends, never more than twice the time measured in
                  Connection._send_bytes) and the workers' waits behind
                  them (never more than their lock wait);
                - a forkserver and a fork Pool of CPU-bound tasks: compute
                  leads, parallel true, the verdict is the one the text
                  report's "Leading cost" names; one main process, as many
                  workers as the Pool's size, the fork server and the
                  resource tracker helpers (idle, not compute);
                - a fork Pool of 2 workers mapping one task 20 times longer
                  than the 3 others (tasks spin for wall-clock time, so a
                  busy machine stretches none of them): imbalance leads,
                  about LONG - 3 * SHORT seconds of one worker idle while
                  the other works, with the hint to split long tasks; the
                  balanced Pools above stay compute; the same with spawn
                  and forkserver Pools on a machine made busy by three
                  spinning processes per CPU, where start-up's length
                  (1.3-2.4 s) exceeds the imbalance (1.1-1.3 s) but its
                  time on a CPU does not; the imbalance is checked against
                  the idle time the program itself measured, and a run on
                  a machine too busy to start the workers together (the
                  idle time as built did not happen) is skipped, saying
                  so;
                - a fork Pool of 4 workers starved while the main
                  process computes: compute leads, and the workers queued
                  on the task queue's read lock (more lock wait than that
                  compute) are idle, not lock contention;
                - 4 fork Processes that work only inside one shared
                  lock: lock wait leads, with the hint about shared
                  locks, and each worker's lock wait is the time it
                  measured in acquire;
                - 12 spawn Processes started at once, each doing 5 ms of
                  work after starting a fresh interpreter: start-up leads,
                  weighed by its time on a CPU;
                - a nested pool (a non-daemonic Pool worker running a fork
                  Pool of CPU-bound leaves): compute leads, and the middle
                  process, waiting in Pool.map, is idle, not lock wait.
  TestPickler   pickling known by what runs, not by class names: a joblib
                job (Debian's python3-joblib, for /usr/bin/python3) whose
                task arguments sleep a known time in __reduce__ shows that
                time as the parent's pickling, although joblib pickles
                them with cloudpickle's and loky's picklers, which cProfile
                labels "<function CloudPickler.dump>"; the site holding it
                is loky's queue feeder, via Pickler.dump.
"""

import contextlib
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpptest  # noqa: E402

CATS = ("pickle_s", "unpickle_s", "lock_wait_s", "ipc_wait_s", "startup_s")
REST = ("compute_s", "idle_s", "other_wait_s")
VERDICT = ("leading", "seconds", "share", "parallel", "hint")
LEADING = ("compute", "pickle", "unpickle", "serialisation", "lock_wait",
           "ipc_wait", "startup", "imbalance", "none")
# The text report's "Leading cost: <title>" for each verdict.leading.
TITLE = {"compute": "compute", "pickle": "pickling",
         "unpickle": "unpickling", "serialisation": "moving data",
         "lock_wait": "lock wait", "ipc_wait": "IPC wait",
         "startup": "start-up", "imbalance": "load imbalance",
         "none": "none measured"}
# Words of advice about workers and pools.
WORKER_WORDS = ("worker", "pool", "chunksize", "task")


@contextlib.contextmanager
def busy_loops(n):
    """n processes spinning on a CPU (at this process's priority, so they
    compete with the profiled program) until the block ends."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
             for _ in range(n)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


class VerdictCase(unittest.TestCase):
    maxDiff = 6000

    def run_target(self, args, **kw):
        r = mpptest.run(list(args), test=self, **kw)
        self.assertEqual(r.returncode, 0, r.describe())
        return r, mpptest.report_json(r.outdir)

    def proc(self, rep, pid):
        found = [p for p in rep["processes"] if p["pid"] == pid]
        self.assertEqual(len(found), 1, "pid %d in %r" % (
            pid, [(p["pid"], p["name"]) for p in rep["processes"]]))
        return found[0]


def compute_of(p):
    """Thread time outside the five categories, as the report counts it."""
    return p["thread_s"] - sum(p["categories"][k] for k in CATS)


class TestCompute(VerdictCase):
    CPU_S = 0.5

    def test_single_process_cpu(self):
        r, rep = self.run_target([mpptest.target("verdict_cpu.py"),
                                  str(self.CPU_S)])
        truth = r.truth()
        p = self.proc(rep, truth["pid"])
        want = truth["module_s"]
        compute = compute_of(p)
        startup = p["categories"]["startup_s"]
        msg = "compute %.4f s, script's own time %.4f s, start-up %.4f s" % (
            compute, want, startup)
        self.assertGreater(startup, 0.0, msg)
        # The hook measured the script's whole run outside any category.
        self.assertLessEqual(abs(compute - want), 0.10 * want, msg)
        # Start-up counted once: not taken off compute, and compute plus
        # start-up fit in the process's life.
        self.assertLess(abs(compute - want), 0.5 * startup + 0.01, msg)
        self.assertLessEqual(compute + startup, p["wall_s"] * 1.02 + 0.005,
                             msg)



class TestShim(VerdictCase):
    DELAY = 3.0

    def test_shim_not_in_startup(self):
        d = mpptest.mktemp(self)
        shim = os.path.join(d, "python3")
        with open(shim, "w") as f:
            f.write("#!/bin/sh\nsleep %s\nexport MPPTEST_SHIM=yes\n"
                    "exec %s \"$@\"\n" % (self.DELAY, mpptest.PYTHON))
        os.chmod(shim, 0o755)
        code = ("import json, os; print('MPPTEST_TRUTH ' + json.dumps("
                "{'pid': os.getpid(), 'shim': os.environ.get("
                "'MPPTEST_SHIM')}))")
        r, rep = self.run_target(["-c", code], python=shim)
        truth = r.truth()
        self.assertEqual(truth["shim"], "yes", "the wrapper's environment")
        p = self.proc(rep, truth["pid"])
        startup = p["categories"]["startup_s"]
        self.assertGreater(startup, 0.0)
        # A start-up on a busy machine takes a few hundred milliseconds;
        # with the wrapper's sleep it would take more than 3 s.
        self.assertLess(startup, self.DELAY / 2,
                        "start-up %.3f s holds the wrapper's sleep" % startup)
        self.assertLess(p["wall_s"], self.DELAY, p)



def pyenv_shim():
    """python3 on PATH when it is a pyenv shim (a script that runs `pyenv
    exec`), else None."""
    import shutil
    path = shutil.which("python3")
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except (OSError, TypeError):
        return None
    return path if head.startswith(b"#!") and b"pyenv" in head else None


class TestPyenvShim(VerdictCase):
    """Acceptance 3 of issue 13: with python3 a pyenv shim, start-up is
    within 30 ms of start-up with the real interpreter.  The best of
    several alternating runs of each, so that a busy machine's noise
    (tens of milliseconds a run here) does not decide."""
    RUNS = 8
    CODE = "import os; print('MPPTEST_TRUTH {\"pid\": %d}' % os.getpid())"

    def startup(self, python):
        r, rep = self.run_target(["-c", self.CODE], python=python)
        return self.proc(rep, r.truth()["pid"])["categories"]["startup_s"]

    @staticmethod
    def best_run(argv, runs=3):
        import time
        best = None
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True)
            t = time.perf_counter() - t0
            best = t if best is None else min(best, t)
        return best

    def test_shim_startup_as_real(self):
        shim = pyenv_shim()
        if shim is None:
            self.skipTest("python3 on PATH is not a pyenv shim")
        real = subprocess.run(
            [shim, "-c", "import sys; print(sys.executable)"],
            check=True, capture_output=True, text=True).stdout.strip()
        # The shim's own cost, unprofiled: what start-up would hold if it
        # were timed from the launcher's spawn of the shim.
        cost = (self.best_run([shim, "-c", "pass"]) -
                self.best_run([real, "-c", "pass"]))
        if cost < 0.06:
            self.skipTest("the shim costs %.0f ms: too little to tell from "
                          "noise" % (cost * 1000))
        via_shim, via_real = [], []
        for _ in range(self.RUNS):
            # python=False: no --python, so the launcher runs python3 from
            # PATH, the shim.
            via_shim.append(self.startup(False))
            via_real.append(self.startup(real))
        msg = "shim %s, real %s, shim's own cost %.0f ms" % (
            ["%.0f ms" % (x * 1000) for x in via_shim],
            ["%.0f ms" % (x * 1000) for x in via_real], cost * 1000)
        self.assertLessEqual(min(via_shim) - min(via_real), 0.030, msg)


class TestVerdict(VerdictCase):
    def check_split(self, rep):
        """Every process and thread: the five categories and the three
        parts of the rest add up to its thread time; roles as designed."""
        v = rep["verdict"]
        self.assertEqual(set(v), set(VERDICT), v)
        self.assertIn(v["leading"], LEADING, v)
        self.assertIsInstance(v["parallel"], bool, v)
        self.assertTrue(v["hint"] is None or isinstance(v["hint"], str), v)
        self.assertTrue(0.0 <= v["share"] <= 1.0, v)
        self.assertEqual(len([p for p in rep["processes"]
                              if p["role"] == "main"]), 1,
                         [(p["pid"], p["role"]) for p in rep["processes"]])
        for p in rep["processes"]:
            self.assertIn(p["role"], ("main", "worker", "helper"), p)
            self.assertIn("host", p)
            self.assertTrue(p["host"] is None or
                            (isinstance(p["host"], str) and p["host"]), p)
            self.assertIn("rank", p)
            self.assertIsNone(p["rank"], p)
            self.assertEqual(p["role"] == "main",
                             p["start_method"] == "main", p)
            for part in [p] + p["thread_list"]:
                c = part["categories"]
                self.assertEqual(set(c), set(CATS + REST), part)
                self.assertTrue(all(c[k] >= 0 for k in c), part)
                self.assertAlmostEqual(sum(c.values()), part["thread_s"],
                                       places=5, msg=part)

    def leading_line(self, r):
        text = mpptest.mpprof(["report", r.outdir]).stdout
        lines = text.split("\n\nProcesses")[0]
        self.assertIn("Leading cost: ", lines)
        return lines[lines.index("Leading cost: "):]

    def check_agree(self, r, rep):
        """The text report's "Leading cost" names verdict.leading, and
        carries its hint (or none)."""
        v = rep["verdict"]
        lead = self.leading_line(r)
        titles = TITLE[v["leading"]]
        titles = titles if isinstance(titles, tuple) else (titles,)
        self.assertTrue(lead.startswith(tuple("Leading cost: " + t
                                              for t in titles)),
                        (v, lead))
        flat = " ".join(lead.split())
        if v["hint"] is None:
            self.assertNotIn("Hint:", lead)
        else:
            self.assertIn("Hint: " + " ".join(v["hint"].split()), flat)
        return lead

    def test_cpu_single(self):
        r, rep = self.run_target([mpptest.target("verdict_cpu.py"), "1.0"])
        self.check_split(rep)
        truth = r.truth()
        v = rep["verdict"]
        self.assertEqual(v["leading"], "compute", v)
        self.assertIs(v["parallel"], False, v)
        self.assertIsNone(v["hint"], v)
        p = self.proc(rep, truth["pid"])
        self.assertEqual(p["role"], "main")
        self.assertAlmostEqual(v["seconds"], p["categories"]["compute_s"],
                               places=6)
        self.assertAlmostEqual(v["share"], v["seconds"] / rep["thread_s"],
                               places=6)
        # On a CPU, outside every category: the script's own CPU time
        # (plus the interpreter's start-up and exit, which are small).
        want = truth["module_cpu_s"]
        self.assertLessEqual(abs(p["categories"]["compute_s"] - want),
                             0.10 * want, (p["categories"], truth))
        lead = self.check_agree(r, rep)
        self.assertTrue(lead.startswith("Leading cost: compute"), lead)
        self.assertNotIn("Hint:", lead)
        for word in WORKER_WORDS:
            self.assertNotIn(word, lead.lower())
        self.assertEqual([p["role"] for p in rep["processes"]], ["main"])

    def test_sleep_is_other_wait(self):
        """Compute is measured (issue 13): a thread that sleeps outside
        every category between two halves of CPU-bound work has the sleep
        as other wait, and only its CPU time as compute; a thread that
        only sleeps while another computes has no compute."""
        r, rep = self.run_target([mpptest.target("verdict_sleep.py"),
                                  "0.6", "0.3"])
        self.check_split(rep)
        truth = r.truth()
        p = self.proc(rep, truth["pid"])
        cpu, sleep = truth["module_cpu_s"], truth["sleep_s"]
        self.assertGreaterEqual(sleep, 0.3, truth)
        self.assertEqual(p["categories"]["idle_s"], 0.0, p["categories"])
        self.assertEqual(rep["verdict"]["leading"], "compute",
                         rep["verdict"])
        threads = {t["name"]: t["categories"] for t in p["thread_list"]}
        self.assertEqual(set(threads), {"MainThread", "sleeper"}, threads)
        main, slept = threads["MainThread"], threads["sleeper"]
        # On a CPU: the script's CPU time (plus the interpreter's exit).
        self.assertLessEqual(abs(main["compute_s"] - cpu), 0.10 * cpu,
                             (threads, truth))
        self.assertLessEqual(abs(p["categories"]["compute_s"] - cpu),
                             0.10 * cpu, (p["categories"], truth))
        # Off it: the sleep, and whatever time the machine's load kept
        # the script runnable but not running, which it measured too
        # (its wall time less its CPU time less the sleep).
        waited = truth["module_s"] - cpu - sleep
        self.assertLessEqual(abs(main["other_wait_s"] - sleep - waited),
                             0.20 * sleep, (threads, truth))
        self.assertGreaterEqual(main["other_wait_s"], 0.80 * sleep,
                                (threads, truth))
        # Per thread, not spread over the process: the thread that only
        # slept has no compute (an estimate from the process's CPU time
        # gave it a third of its sleep) and its sleep as other wait.
        self.assertLessEqual(slept["compute_s"],
                             truth["sleeper_cpu_s"] + 0.005,
                             (threads, truth))
        self.assertLessEqual(abs(slept["other_wait_s"] - sleep),
                             0.20 * sleep, (threads, truth))

    def test_pool_payload(self):
        r, rep = self.run_target([mpptest.target("verdict_payload.py"),
                                  "fork", "8"], timeout=300)
        self.check_split(rep)
        truth = r.truth()
        v = rep["verdict"]
        self.assertEqual(v["leading"], "serialisation",
                         (v, rep["categories"]))
        self.assertIs(v["parallel"], True, v)
        self.assertIn("send less per task", v["hint"] or "", v)
        # Moving data is its four parts, each measured elsewhere too.
        m = rep["moving_data"]
        self.assertAlmostEqual(v["seconds"], sum(m.values()), places=6)
        self.assertGreater(m["transfer_s"], 0, m)
        sends = sum(f["cumtime_s"] for f in rep["functions"]
                    if f["name"] == "_send_bytes"
                    and f["file"].endswith("multiprocessing/connection.py"))
        self.assertLessEqual(m["transfer_s"], 2 * sends + 1e-6, (m, sends))
        workers_lock = sum(self.proc(rep, pid)["categories"]["lock_wait_s"]
                           for pid in truth["workers"])
        self.assertLessEqual(m["queued_s"], workers_lock + 1e-6, m)
        self.assertLessEqual(m["pickle_s"],
                             rep["categories"]["pickle_s"] + 1e-6, m)
        self.assertEqual(self.proc(rep, truth["main"])["role"], "main")
        for pid in truth["workers"]:
            self.assertEqual(self.proc(rep, pid)["role"], "worker")
        lead = self.check_agree(r, rep)
        self.assertIn("pipe transfers (both ends)", " ".join(lead.split()))
        self.assertIn("Hint: send less per task", lead)

    def check_pool_cpu(self, method):
        workers, tasks = 3, 6
        r, rep = self.run_target([mpptest.target("verdict_pool_cpu.py"),
                                  method, str(workers), str(tasks), "0.8"],
                                 timeout=300)
        self.check_split(rep)
        truth = r.truth()
        v = rep["verdict"]
        self.assertIs(v["parallel"], True, v)
        self.assertEqual(v["leading"], "compute", (v, rep["categories"]))
        self.assertIsNone(v["hint"], v)
        self.check_agree(r, rep)
        roles = [(p["pid"], p["role"], p["start_method"], p["name"])
                 for p in rep["processes"]]
        self.assertEqual(self.proc(rep, truth["main"])["role"], "main")
        for pid in truth["workers"]:
            self.assertEqual(self.proc(rep, pid)["role"], "worker", roles)
        got = [p for p in rep["processes"] if p["role"] == "worker"]
        self.assertEqual(len(got), truth["pool_size"], roles)
        return rep, roles

    def test_pool_cpu_fork(self):
        rep, roles = self.check_pool_cpu("fork")
        self.assertEqual([p for p in rep["processes"]
                          if p["role"] == "helper"], [], roles)

    def test_pool_cpu_forkserver(self):
        rep, roles = self.check_pool_cpu("forkserver")
        helpers = [p for p in rep["processes"] if p["role"] == "helper"]
        # The fork server, and the resource tracker it starts.
        self.assertGreaterEqual(len(helpers), 1, roles)
        self.assertLessEqual(len(helpers), 2, roles)
        # Named by what they are: multiprocessing calls both "MainProcess".
        names = sorted(p["name"] for p in helpers)
        self.assertIn("forkserver", names, roles)
        self.assertTrue(set(names) <= {"forkserver", "resource_tracker"},
                        roles)
        self.assertEqual(len(set(names)), len(names), roles)
        for p in helpers:
            # Waiting for requests: idle, not compute (issue 13: 3.30 s of
            # the fork server counted as compute).  What compute is left
            # is CPU time its thread's clock shows it spent after its
            # start-up, outside every category: never more than its CPU
            # time (its start-up's wall time is not all on a CPU on a busy
            # machine, so the CPU time less the start-up's length is no
            # bound), and most of its life is idle.
            c = p["categories"]
            self.assertLessEqual(c["compute_s"], p["cpu_s"] + 0.001, p)
            self.assertGreater(c["idle_s"], 0.5 * p["thread_s"], p)
            self.assertGreater(c["idle_s"], 5 * c["compute_s"], p)
            # Acceptance 2 of issue 13: a helper's compute under 50 ms.
            # Measured from each thread's CPU clock up to the end of its
            # program (finalization after a fork, a copy-on-write fault
            # for each page it frees, took 30-40 ms more and is no
            # thread's time), the fork server (which after its start-up
            # forks the workers, CPU time no category claims) took
            # 16-18 ms and the resource tracker 2 ms on a quiet machine.
            # Under ASan the collector's instrumented code runs inside
            # that import, so a sanitized build gets twice the room.
            sanitized = os.environ.get("MPPTEST_SANITIZED") == "1"
            limit = 0.1 if sanitized else 0.05
            self.assertLess(c["compute_s"], limit, p)

    def check_imbalance(self, method, load=0):
        """The imbalance scenario started by `method`, with `load` busy
        processes spinning beside it for the whole run."""
        long_s, short_s, nshort = 1.5, 0.075, 3
        with busy_loops(load):
            r, rep = self.run_target([mpptest.target("verdict_imbalance.py"),
                                      method, "2", str(long_s),
                                      str(short_s), str(nshort)],
                                     timeout=300)
        self.check_split(rep)
        truth = r.truth()
        v, imb = rep["verdict"], rep["imbalance"]
        # The scenario as built: the other worker ran the short tasks, then
        # sat idle for about LONG - NSHORT * SHORT while the long one ran.
        # A machine so busy that it started that worker a second late
        # (seen at a load average of 18 on 2 CPUs) leaves little idle time
        # and much start-up: a program whose right verdict is no longer
        # known, so the run says so instead of passing or failing.
        want = long_s - nshort * short_s
        if truth["idle_s"] < 0.6 * want:
            self.skipTest("the machine started the workers too far apart: "
                          "idle %.2f s of %.2f s built" % (truth["idle_s"],
                                                           want))
        self.assertEqual(v["leading"], "imbalance",
                         (v, imb, rep["categories"]))
        self.assertIs(v["parallel"], True, v)
        for word in ("split long tasks", "chunksize", "imap_unordered"):
            self.assertIn(word, v["hint"] or "", v)
        # The verdict's seconds are the imbalance, its share of the thread
        # time as for every verdict.
        self.assertAlmostEqual(v["seconds"], imb["seconds"], places=6)
        self.assertAlmostEqual(v["share"], v["seconds"] / rep["thread_s"],
                               places=6)
        # One worker ran the short tasks, then waited while the other ran
        # the long one: the idle time the program measured.
        self.assertEqual(imb["workers"], 1, imb)
        self.assertGreater(imb["seconds"], 0.8 * truth["idle_s"],
                           (imb, truth))
        self.assertLess(imb["seconds"], truth["idle_s"] + 0.2, (imb, truth))
        self.assertEqual(self.proc(rep, truth["main"])["role"], "main")
        self.assertIn(truth["long_worker"], truth["workers"])
        for pid in truth["workers"]:
            self.assertEqual(self.proc(rep, pid)["role"], "worker")
        lead = self.check_agree(r, rep)
        self.assertTrue(lead.startswith("Leading cost: load imbalance"),
                        lead)

    def test_imbalance(self):
        self.check_imbalance("fork")

    # Spawn and forkserver workers start a fresh interpreter each, whose
    # start-up a busy machine stretches while the tasks, which spin for
    # wall-clock time, keep their length: start-up (its length, 1.30 s)
    # outweighed the imbalance (0.90 s) and led, until start-up was
    # weighed by its time on a CPU (issue 13).  As many busy loops as
    # CPUs make the machine busy whatever else runs on it.
    @unittest.skipIf(os.environ.get("MPPTEST_SANITIZED") == "1",
                     "under ASan the profiled start-up itself takes seconds "
                     "of CPU, as much as the imbalance the scenario builds: "
                     "the right verdict is no longer known by construction")
    def test_imbalance_spawn_loaded(self):
        self.check_imbalance("spawn", load=3 * (os.cpu_count() or 2))

    @unittest.skipIf(os.environ.get("MPPTEST_SANITIZED") == "1",
                     "under ASan the profiled start-up itself takes seconds "
                     "of CPU, as much as the imbalance the scenario builds: "
                     "the right verdict is no longer known by construction")
    def test_imbalance_forkserver_loaded(self):
        self.check_imbalance("forkserver", load=3 * (os.cpu_count() or 2))

    def test_starved_pool(self):
        workers, seconds = 4, 1.0
        r, rep = self.run_target([mpptest.target("verdict_starved.py"),
                                  "fork", str(workers), str(seconds)],
                                 timeout=300)
        self.check_split(rep)
        truth = r.truth()
        v = rep["verdict"]
        self.assertEqual(v["leading"], "compute", (v, rep["categories"]))
        self.assertIs(v["parallel"], True, v)
        self.assertIsNone(v["hint"], v)
        main = self.proc(rep, truth["main"])
        # The main process's spinning is compute (the tasks are nothing).
        self.assertGreater(main["categories"]["compute_s"],
                           0.9 * truth["main_cpu_s"], main["categories"])
        # The scenario is what it claims: all but one idle worker queued
        # on the task queue's read lock for about the main process's
        # spinning, more lock wait in all than that compute, which the
        # verdict must not take for contention.
        pool = [p for p in rep["processes"] if p["role"] == "worker"]
        self.assertEqual(len(pool), workers, pool)
        queued = [p for p in pool
                  if p["categories"]["lock_wait_s"] > 0.5 * seconds]
        self.assertGreaterEqual(len(queued), workers - 2, pool)
        lock = sum(p["categories"]["lock_wait_s"] for p in pool)
        self.assertGreater(lock, v["seconds"], (lock, v))
        lead = self.check_agree(r, rep)
        self.assertIn("queues' read locks", " ".join(lead.split()))

    def test_lock_contended(self):
        """Workers working inside one shared lock: lock wait leads, each
        worker's lock wait is the time it measured in acquire, and the
        hint is about shared locks."""
        workers, rounds, hold = 4, 20, 0.02
        r, rep = self.run_target([mpptest.target("verdict_lock.py"), "fork",
                                  str(workers), str(rounds), str(hold)],
                                 timeout=300)
        self.check_split(rep)
        truth = r.truth()
        v = rep["verdict"]
        self.assertEqual(v["leading"], "lock_wait", (v, rep["categories"]))
        self.assertIs(v["parallel"], True, v)
        self.assertIn("shared lock", v["hint"] or "", v)
        # Nothing large moved: what transfers and waits behind them there
        # were (a busy machine can stretch a small message's send past
        # the 1 ms a span needs) are a small part of the lock wait.
        m = rep["moving_data"]
        self.assertLess(m["transfer_s"] + m["queued_s"], 0.1 * v["seconds"],
                        (m, v))
        self.assertEqual(self.proc(rep, truth["main"])["role"], "main")
        self.assertEqual(len(truth["workers"]), workers)
        for pid, waited in truth["workers"].items():
            p = self.proc(rep, int(pid))
            self.assertEqual(p["role"], "worker", p)
            got = p["categories"]["lock_wait_s"]
            self.assertGreater(got, 0.9 * waited - 0.01, (pid, waited, p))
            self.assertLess(got, waited + 0.05, (pid, waited, p))
        # The verdict's seconds: the workers' waits for the shared lock at
        # least, and no more than all the lock wait measured.
        mine = sum(self.proc(rep, int(pid))["categories"]["lock_wait_s"]
                   for pid in truth["workers"])
        self.assertGreaterEqual(v["seconds"], mine - 1e-6, (v, mine))
        self.assertLessEqual(v["seconds"],
                             rep["categories"]["lock_wait_s"] + 1e-6, v)
        self.assertAlmostEqual(v["share"], v["seconds"] / rep["thread_s"],
                               places=6)
        lead = self.check_agree(r, rep)
        self.assertTrue(lead.startswith("Leading cost: lock wait"), lead)

    def test_manager_round_trips(self):
        """A Manager's proxy calls: IPC wait leads with the main process's
        round trips, the Manager's server is a helper whose waits for
        requests are idle (they led as lock wait, with a hint about shared
        locks), no advice about workers, and the hint is the Manager's."""
        calls, delay = 100, 0.003
        r, rep = self.run_target([mpptest.target("verdict_manager.py"),
                                  str(calls), str(delay)], timeout=300)
        self.check_split(rep)
        truth = r.truth()
        v = rep["verdict"]
        self.assertEqual(v["leading"], "ipc_wait", (v, rep["categories"]))
        self.assertIs(v["parallel"], False, v)
        self.assertIn("Manager", v["hint"] or "", v)
        main = self.proc(rep, truth["main"])
        server = self.proc(rep, truth["server"])
        self.assertEqual(main["role"], "main", main)
        self.assertEqual((server["role"], server["name"]),
                         ("helper", "SlowManager-1"), server)
        # The main process waits out every sleep of the server, and no
        # longer than it used the Manager: the server's start (its address
        # comes through a pipe; on 3.14 and later through the fork server,
        # 0.1-0.2 s), the calls as it timed them, and the shutdown.
        got = main["categories"]["ipc_wait_s"]
        self.assertGreater(got, calls * delay, main)
        self.assertLess(got, truth["manager_s"] + 0.01, (got, truth))
        self.assertAlmostEqual(v["seconds"], got, places=6)
        lead = self.check_agree(r, rep)
        self.assertTrue(lead.startswith("Leading cost: IPC wait"), lead)
        for word in WORKER_WORDS:
            self.assertNotIn(word, lead.lower())

    def test_spawn_many(self):
        nprocs, work_s = 12, 0.005
        r, rep = self.run_target([mpptest.target("verdict_spawn_many.py"),
                                  str(nprocs), str(work_s)], timeout=300)
        self.check_split(rep)
        truth = r.truth()
        v = rep["verdict"]
        self.assertEqual(v["leading"], "startup", (v, rep["categories"]))
        self.assertIs(v["parallel"], True, v)
        self.assertIn("start workers once", v["hint"] or "", v)
        # Start-up is never idle, and the verdict weighs its time on a
        # CPU: no more than its length nor than the CPU time of all the
        # processes, and at least the children's CPU time less their
        # work, since a child does nothing else but start and exit.
        startup = rep["categories"]["startup_s"]
        cpu = sum(p["cpu_s"] for p in rep["processes"])
        children_cpu = sum(self.proc(rep, pid)["cpu_s"] - work_s
                           for pid in truth["children"])
        msg = (v, startup, cpu, children_cpu)
        self.assertLessEqual(v["seconds"], startup + 1e-6, msg)
        self.assertLessEqual(v["seconds"], cpu + 1e-6, msg)
        self.assertGreater(v["seconds"], 0.8 * children_cpu, msg)
        self.assertAlmostEqual(v["share"], v["seconds"] / rep["thread_s"],
                               places=6)
        self.assertEqual(len(truth["children"]), nprocs)
        for pid in truth["children"]:
            p = self.proc(rep, pid)
            self.assertEqual((p["role"], p["start_method"]),
                             ("worker", "spawn"), p)
            self.assertGreater(p["categories"]["startup_s"], 0.0, p)
        lead = self.check_agree(r, rep)
        self.assertTrue(lead.startswith("Leading cost: start-up"), lead)

    def test_nested_pool(self):
        leaves, tasks, seconds = 2, 4, 0.5
        r, rep = self.run_target([mpptest.target("verdict_nested.py"),
                                  str(leaves), str(tasks), str(seconds)],
                                 timeout=300)
        self.check_split(rep)
        truth = r.truth()
        v = rep["verdict"]
        self.assertEqual(v["leading"], "compute", (v, rep["categories"]))
        self.assertIs(v["parallel"], True, v)
        self.assertIsNone(v["hint"], v)
        # The leaves' CPU time is compute, and it leads.
        self.assertGreater(v["seconds"], 0.8 * tasks * seconds, v)
        main = self.proc(rep, truth["main"])
        mid = self.proc(rep, truth["middle"])
        self.assertEqual(main["role"], "main")
        self.assertEqual((mid["role"], mid["ppid"]), ("worker", main["pid"]))
        for pid in truth["leaves"]:
            leaf = self.proc(rep, pid)
            self.assertEqual((leaf["role"], leaf["ppid"]),
                             ("worker", mid["pid"]), leaf)
        # The middle process waits for its leaves in Pool.map for most of
        # its life: its waits are idle like the main process's (the text
        # report says so), its time outside categories idle, not compute.
        c = mid["categories"]
        waits = c["lock_wait_s"] + c["ipc_wait_s"]
        self.assertGreater(waits + c["idle_s"], 0.5 * mid["thread_s"], mid)
        self.assertGreater(c["idle_s"], c["compute_s"], mid)
        lead = self.check_agree(r, rep)
        self.assertTrue(lead.startswith("Leading cost: compute"), lead)
        self.assertIn("the workers running pools of their own waited",
                      " ".join(lead.split()))


SYSTEM_PYTHON = mpptest.debian_python()


def system_joblib():
    """Whether the system Python has joblib (python3-joblib)."""
    import subprocess
    try:
        return subprocess.run([SYSTEM_PYTHON, "-c", "import joblib"],
                              capture_output=True).returncode == 0
    except OSError:
        return False


class TestPickler(VerdictCase):
    @unittest.skipUnless(system_joblib(), SYSTEM_PYTHON + " has no joblib")
    def test_joblib_pickling(self):
        tasks, delay = 10, 0.1
        r, rep = self.run_target([mpptest.target("verdict_joblib.py"),
                                  str(tasks), str(delay)],
                                 python=SYSTEM_PYTHON, timeout=300)
        truth = r.truth()
        main = self.proc(rep, truth["main"])
        pickle_s = main["categories"]["pickle_s"]
        want = tasks * delay
        # Every sleep inside __reduce__ is pickling; the rest is cloudpickle
        # sending the task function by value and the batches themselves.
        self.assertGreater(pickle_s, 0.95 * want, main["categories"])
        self.assertLess(pickle_s, want + 0.6, main["categories"])
        # The site that holds those sleeps names the C pickler it reached
        # (not "?") and the code that sent the tasks: loky's queue, which
        # pickles in its feeder thread, not one of the picklers' own dump
        # and dumps methods the call went through.
        sites = [x for x in rep["sites"]["pickle"]
                 if truth["main"] in x["process_pids"]]
        self.assertTrue(sites, rep["sites"]["pickle"])
        top = max(sites, key=lambda x: x["seconds"])
        self.assertEqual(top["via"], "Pickler.dump", top)
        self.assertTrue(top["file"].endswith("loky/backend/queues.py"), top)
        self.assertNotIn(top["name"], ("dump", "dumps"), top)
        self.assertGreater(top["seconds"], 0.95 * want, top)
        self.assertLessEqual(top["seconds"], pickle_s + 1e-6, top)


if __name__ == "__main__":
    mpptest.main()
