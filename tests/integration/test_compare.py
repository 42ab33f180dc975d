"""Issue 4, acceptance 3: `mpprof compare` on the bundled serial and
multiprocessing examples.

Ground truth is the wall time of each profiled run as the test itself
measures it around `mpprof run` (which includes mpprof's own start-up and
output writing, a few tens of milliseconds; the runs are made long enough
for that to stay well inside the 5% tolerance).  The lost-time parts must
add up, with "other", to the gap between the ideal and the measured
parallel wall time.
"""
import json
import os
import time
import unittest

import mpptest

EXAMPLES = os.path.join(mpptest.SRC, "examples")
GAMES = "60000"
WORKERS = 2


class TestCompareExamples(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        mpptest.check_binary()
        cls.runs = {}
        cls.walls = {}
        for name, extra in (("mc_serial.py", []),
                            ("mc_parallel.py", ["--workers", str(WORKERS)])):
            t0 = time.perf_counter()
            r = mpptest.run([os.path.join(EXAMPLES, name), GAMES] + extra)
            cls.walls[name] = time.perf_counter() - t0
            if r.returncode != 0:
                raise AssertionError(r.describe())
            cls.runs[name] = r
        cls.base = cls.runs["mc_serial.py"].outdir
        cls.par = cls.runs["mc_parallel.py"].outdir

    @classmethod
    def tearDownClass(cls):
        for r in cls.runs.values():
            r.cleanup()

    def compare(self, *extra):
        p = mpptest.mpprof(["compare", self.base, self.par] + list(extra))
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_same_result_in_both(self):
        # The two examples do the same work: the same printed result.
        lines = [self.runs[n].stdout.splitlines()[0]
                 for n in ("mc_serial.py", "mc_parallel.py")]
        self.assertEqual(lines[0], lines[1])

    def test_speedup_is_the_measured_wall_ratio(self):
        doc = json.loads(self.compare("--json"))
        measured = self.walls["mc_serial.py"] / self.walls["mc_parallel.py"]
        self.assertAlmostEqual(doc["speedup"] / measured, 1.0, delta=0.05,
                               msg="speedup %.3f, measured ratio %.3f"
                               % (doc["speedup"], measured))
        # The walls compare reads are the ones report shows.
        base = mpptest.report_json(self.base)
        par = mpptest.report_json(self.par)
        self.assertAlmostEqual(doc["baseline"]["wall_s"], base["wall_s"],
                               places=6)
        self.assertAlmostEqual(doc["parallel"]["wall_s"], par["wall_s"],
                               places=6)
        self.assertAlmostEqual(doc["speedup"],
                               base["wall_s"] / par["wall_s"], places=6)

    def test_ideal_and_efficiency(self):
        doc = json.loads(self.compare("--json"))
        self.assertEqual(doc["parallel"]["workers"], WORKERS)
        self.assertEqual(doc["ideal_speedup"], WORKERS)
        self.assertEqual(doc["baseline"]["processes"], 1)
        self.assertAlmostEqual(doc["efficiency"],
                               doc["speedup"] / doc["ideal_speedup"],
                               places=6)

    def test_lost_parts_add_up_to_the_gap(self):
        doc = json.loads(self.compare("--json"))
        lost = doc["lost_s"]
        self.assertEqual(set(lost), {"pickle", "unpickle", "lock_wait",
                                     "ipc_wait", "startup", "imbalance",
                                     "other"})
        gap = (doc["parallel"]["wall_s"]
               - doc["baseline"]["wall_s"] / doc["ideal_speedup"])
        self.assertAlmostEqual(sum(lost.values()), gap, delta=1e-6)

    def test_no_addresses_in_names(self):
        # random.Random overrides seed() in Python; the C seed it calls is
        # named after that override, whose repr carries an address.  The
        # name must not, so the function merges across processes.
        rep = mpptest.report_json(self.par)
        self.assertFalse([f["name"] for f in rep["functions"]
                          if " at 0x" in f["name"]])
        seed = [f for f in rep["functions"]
                if f["name"] == "<function Random.seed>"]
        self.assertEqual(len(seed), 1)
        # The main process and every worker seed a Random; so does the
        # fork server where it imports random (3.14's default start
        # method), which is a helper.
        self.assertGreaterEqual(seed[0]["processes"], 1 + WORKERS)
        self.assertLessEqual(seed[0]["processes"], len(rep["processes"]))

    def test_text(self):
        text = self.compare()
        self.assertIn("speedup", text)
        self.assertIn("efficiency", text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
