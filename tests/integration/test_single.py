"""Single-process acceptance (issue: "single-process profiling agrees with
cProfile"; design.md "Correctness" and "Output directory").

For each target script in targets/ (recursion, generators, exceptions,
builtins, threads, a CPU-bound one), run once under `mpprof run` and once
under `python -m cProfile` (same Python), then check:

  * every function defined in the target file has the same ncalls and
    primitive calls as cProfile, and the same set of such functions exists;
  * every caller->callee edge whose caller is in the target file and whose
    callee is in the target file or a builtin has the same counts;
  * functions that run only in worker threads (cProfile before 3.12 cannot
    see them; from 3.12 it sees them, but with one stack for all threads)
    are present with the counts the target itself observed, including
    threads of _thread.start_new_thread and one already running when the
    collector starts (3.12+, where mpprof uses sys.monitoring);
  * pstats.Stats(profile.prof).sort_stats("cumulative").print_stats(30) works;
  * for the CPU-bound target, Stats.total_tt is within 10% of the wall time
    the script measured itself;
  * callgrind_annotate parses callgrind.out, and its inclusive cost per
    non-recursive function agrees with pstats cumtime (2% or 1 ms);
  * `mpprof report DIR --json` parses and its functions' ncalls/pcalls match
    profile.prof; `mpprof report DIR` prints text;
  * the target's stdout is the same as without the profiler, the output
    directory holds the four documented files and nothing named
    callgrind.out.*.

Ground truth always comes from cProfile or from the target itself.
"""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpptest  # noqa: E402

OUTPUT_FILES = ("profile.prof", "callgrind.out", "session.mpprof", "report.txt")


def _python_version():
    """(major, minor) of the Python the targets run under."""
    out = subprocess.run([mpptest.PYTHON, "-c",
                          "import sys; print(*sys.version_info[:2])"],
                         capture_output=True, text=True, check=True).stdout
    return tuple(int(x) for x in out.split())


# From 3.12 on, cProfile runs on sys.monitoring, whose events are
# interpreter-wide: it sees every thread, not only the one that enabled it,
# and keeps one stack for all of them.  Its numbers for functions that run
# in worker threads are then neither zero nor per-thread (a call in one
# thread while another thread is inside the same function reads as
# recursive), so for those the target's own count is the truth.
PY_VERSION = _python_version()
CPROFILE_SEES_THREADS = PY_VERSION >= (3, 12)
# mpprof's own backend on 3.12+ (unless the profile hook is forced) sees
# threads that threading never started and ones that ran before it did.
MONITORING = (PY_VERSION >= (3, 12) and
              os.environ.get("MPPROF_BACKEND") != "hook")


def _fmt_key(k):
    return "%s:%d(%s)" % (os.path.basename(k[0]), k[1], k[2])


class _TargetCase:
    """Mixin; subclasses set TARGET, ARGS and optionally CPU_BOUND."""
    TARGET = None
    ARGS = ()
    CPU_BOUND = False
    NEEDS_EXACT_BUILTINS = False
    RUN_OPTS = ()  # ("--fast",) for fast mode

    @classmethod
    def setUpClass(cls):
        cls.script = mpptest.target(cls.TARGET)
        cls.run_ = mpptest.run([cls.script] + list(cls.ARGS),
                               run_opts=cls.RUN_OPTS)
        cls.addClassCleanup(cls.run_.cleanup)
        cls.cprof_proc, cls.cstats = mpptest.cprofile([cls.script] + list(cls.ARGS))
        cls.plain = mpptest.run_python([cls.script] + list(cls.ARGS))
        cls._stats = None

    # -- helpers --
    def need_run(self):
        r = self.run_
        if r.returncode != 0:
            self.fail("mpprof run failed\n" + r.describe())
        if not os.path.exists(r.path("profile.prof")):
            self.fail("no profile.prof written\n" + r.describe())

    @property
    def stats(self):
        self.need_run()
        if self._stats is None:
            type(self)._stats = mpptest.load_stats(self.run_)
        return self._stats

    def truth(self):
        return self.run_.truth()

    def thread_only(self):
        return self.truth().get("thread_only", {})

    def in_target(self, key):
        return mpptest.same_file(key[0], self.TARGET)

    # -- tests --
    def test_exit_and_stdout_unchanged(self):
        self.need_run()
        self.assertEqual(self.plain.returncode, 0, self.plain.stderr)
        strip = lambda s: [l for l in s.splitlines()
                           if not l.startswith(mpptest.TRUTH_PREFIX)]
        self.assertEqual(strip(self.run_.stdout), strip(self.plain.stdout),
                         "the target printed something else under mpprof")

    def test_output_files(self):
        self.need_run()
        names = sorted(os.listdir(self.run_.outdir))
        for f in OUTPUT_FILES:
            self.assertIn(f, names, "output dir lacks %s: %r" % (f, names))
            self.assertGreater(os.path.getsize(self.run_.path(f)), 0, f)
        bad = [n for n in names if n.startswith("callgrind.out.")]
        self.assertEqual(bad, [], "KCachegrind would load these as parts")

    def test_function_counts_match_cprofile(self):
        mine = mpptest.file_functions(self.stats, self.TARGET)
        ref = mpptest.file_functions(self.cstats, self.TARGET)
        thread_only = self.thread_only()
        self.assertTrue(ref, "cProfile saw no function of the target?")
        problems = []
        for ident, ck in sorted(ref.items()):
            if ident[1] in thread_only:
                continue  # see CPROFILE_SEES_THREADS; checked on its own
            mk = mine.get(ident)
            if mk is None:
                problems.append("missing in mpprof: %s" % _fmt_key(ck))
                continue
            ccc, cnc = self.cstats.stats[ck][:2]
            mcc, mnc = self.stats.stats[mk][:2]
            if (mnc, mcc) != (cnc, ccc):
                problems.append("%s: mpprof ncalls %d/%d, cProfile %d/%d" % (
                    _fmt_key(ck), mnc, mcc, cnc, ccc))
        for ident, mk in sorted(mine.items()):
            if ident not in ref and ident[1] not in thread_only:
                problems.append("only in mpprof: %s (ncalls %d)" % (
                    _fmt_key(mk), self.stats.stats[mk][1]))
        self.assertEqual(problems, [], "\n".join(problems))

    def flat(self):
        """Fast mode on sys.monitoring keeps no caller->callee edges."""
        return "--fast" in self.RUN_OPTS and MONITORING

    def test_caller_counts_match_cprofile(self):
        if self.flat():
            self.skipTest("fast mode keeps no caller->callee edges")
        mine = self.stats.stats
        thread_only = set(self.thread_only())
        ref_by_norm = {mpptest.norm_key(k, self.TARGET): v
                       for k, v in self.cstats.stats.items()}
        mine_by_norm = {mpptest.norm_key(k, self.TARGET): v
                        for k, v in mine.items()}
        problems = []
        checked = 0
        for callee, v in sorted(ref_by_norm.items()):
            if not (callee[0] == self.TARGET or callee[0] == "~"):
                continue
            if callee[2] in thread_only:
                continue
            ref_callers = {c: e for c, e in v[4].items()
                           if self.in_target(c) and c[2] not in thread_only}
            if not ref_callers:
                continue
            mv = mine_by_norm.get(callee)
            if mv is None:
                problems.append("callee missing in mpprof: %s" % _fmt_key(callee))
                continue
            my_callers = {mpptest.norm_key(c, self.TARGET): e
                          for c, e in mv[4].items() if self.in_target(c)}
            for c, e in sorted(ref_callers.items()):
                c = mpptest.norm_key(c, self.TARGET)
                me = my_callers.pop(c, None)
                checked += 1
                if me is None:
                    problems.append("edge missing: %s -> %s" % (
                        _fmt_key(c), _fmt_key(callee)))
                elif (me[0], me[1]) != (e[0], e[1]):
                    problems.append("edge %s -> %s: mpprof %d/%d, cProfile %d/%d" % (
                        _fmt_key(c), _fmt_key(callee), me[0], me[1], e[0], e[1]))
            for c, me in sorted(my_callers.items()):
                if c[2] in thread_only:
                    continue
                problems.append("edge only in mpprof: %s -> %s (%d)" % (
                    _fmt_key(c), _fmt_key(callee), me[0]))
        self.assertGreater(checked, 0)
        self.assertEqual(problems, [], "\n".join(problems))

    def test_thread_only_functions_present(self):
        thread_only = self.thread_only()
        if not thread_only:
            self.skipTest("target runs no thread-only function")
        for name, expected in sorted(thread_only.items()):
            # Before 3.12 cProfile sees only the thread that enabled it; from
            # 3.12 on it sees every call in every thread.
            self.assertEqual(mpptest.ncalls(self.cstats, self.TARGET, name),
                             expected if CPROFILE_SEES_THREADS else 0,
                             "cProfile saw %s: the target is not testing "
                             "what it claims" % name)
            self.assertEqual(mpptest.ncalls(self.stats, self.TARGET, name),
                             expected, "thread-only function %s" % name)

    def test_print_stats(self):
        text = mpptest.print_stats_text(self.stats, 30)
        self.assertIn("function calls", text)
        self.assertIn(self.TARGET, text)

    def test_report_json_matches_pstats(self):
        self.need_run()
        rep = mpptest.report_json(self.run_.outdir, ["--limit", "100000"])
        funcs = rep.get("functions")
        self.assertIsInstance(funcs, list)
        self.assertTrue(funcs, "report --json lists no function")
        by_key = {}
        for f in funcs:
            for field in ("file", "line", "name", "ncalls", "pcalls",
                          "tottime_s", "cumtime_s"):
                self.assertIn(field, f)
            by_key[(f["file"], f["line"], f["name"])] = f
        problems = []
        for key, f in sorted(by_key.items()):
            v = self.stats.stats.get(key)
            if v is None:
                problems.append("json function not in profile.prof: %r" % (key,))
                continue
            if (f["ncalls"], f["pcalls"]) != (v[1], v[0]):
                problems.append("%s: json %d/%d, pstats %d/%d" % (
                    _fmt_key(key), f["ncalls"], f["pcalls"], v[1], v[0]))
            if abs(f["cumtime_s"] - v[3]) > max(1e-3, 0.01 * v[3]):
                problems.append("%s: json cumtime %.6f, pstats %.6f" % (
                    _fmt_key(key), f["cumtime_s"], v[3]))
        self.assertEqual(problems, [], "\n".join(problems))
        mine = mpptest.file_functions(self.stats, self.TARGET)
        in_json = [k for k in by_key if self.in_target(k)]
        self.assertEqual(len(in_json), len(mine),
                         "report --json --limit 100000 should list every "
                         "function of the target")
        for key in ("mpprof_version", "python", "command", "wall_s",
                    "exit_status", "processes", "categories", "integrity"):
            self.assertTrue(key in rep, "report --json lacks %r" % key)
        self.assertEqual(rep["exit_status"], 0)
        self.assertEqual(len(rep["processes"]), 1, rep["processes"])
        self.assertEqual(rep["integrity"].get("rejected"), 0)
        self.assertEqual(rep["integrity"].get("processes_lost"), 0)

    def test_report_text(self):
        self.need_run()
        p = mpptest.mpprof(["report", self.run_.outdir])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(p.stdout.strip(), "report printed nothing")
        self.assertEqual(p.stderr.strip(), "")
        p2 = mpptest.mpprof(["report", self.run_.path("session.mpprof")])
        self.assertEqual(p2.returncode, 0, p2.stderr)
        self.assertEqual(p2.stdout, p.stdout,
                         "report DIR and report DIR/session.mpprof differ")

    def test_callgrind_inclusive_matches_cumtime(self):
        if self.flat():
            self.skipTest("fast mode keeps no calls for inclusive costs")
        self.need_run()
        path = self.run_.path("callgrind.out")
        totals, incl = mpptest.callgrind_annotate(path, inclusive=True)
        tt = self.stats.total_tt
        self.assertGreater(totals, 0)
        self.assertGreater(tt, 0)
        # Unit of the first event, inferred from the totals (ns, us, ms...).
        scale = totals / tt
        units = [10 ** k for k in range(0, 13, 3)]
        unit = min(units, key=lambda u: abs(scale / u - 1))
        self.assertLess(abs(scale / unit - 1), 0.02,
                        "callgrind totals %d vs pstats total_tt %.6f s: no "
                        "plausible time unit" % (totals, tt))
        problems = []
        checked = 0
        for (line, name), key in sorted(mpptest.file_functions(self.stats,
                                                               self.TARGET).items()):
            cc, nc, _tt, ct, callers = self.stats.stats[key]
            if cc != nc or key in callers:
                continue  # recursive: cumtime conventions differ
            labels = mpptest.callgrind_match(incl, self.TARGET, name, line)
            if len(labels) != 1:
                problems.append("%s: callgrind_annotate labels %r" % (
                    _fmt_key(key), labels))
                continue
            got = incl[labels[0]] / unit
            checked += 1
            if abs(got - ct) > max(0.02 * ct, 1e-3):
                problems.append("%s: callgrind inclusive %.6f s, pstats "
                                "cumtime %.6f s" % (_fmt_key(key), got, ct))
        self.assertEqual(problems, [], "\n".join(problems))
        self.assertGreater(checked, 0)

    def test_total_time_matches_wall(self):
        if not self.CPU_BOUND:
            self.skipTest("only for the CPU-bound target")
        wall = self.truth().get("wall_s")
        self.assertIsNotNone(wall, "target printed no wall time")
        tt = self.stats.total_tt
        self.assertLess(abs(tt - wall), 0.10 * wall,
                        "pstats total_tt %.3f s vs the script's own wall "
                        "time %.3f s" % (tt, wall))


class TestRecursion(_TargetCase, unittest.TestCase):
    TARGET = "t_recursion.py"
    ARGS = ("40",)


class TestGenerators(_TargetCase, unittest.TestCase):
    TARGET = "t_generators.py"
    ARGS = ("50",)


class TestExceptions(_TargetCase, unittest.TestCase):
    TARGET = "t_exceptions.py"
    ARGS = ("300",)


class TestBuiltins(_TargetCase, unittest.TestCase):
    TARGET = "t_builtins.py"
    ARGS = ("200",)

    def test_builtins_named_like_cprofile(self):
        # The edges test covers counts; here: the builtin entries exist under
        # cProfile's exact keys (what pstats, snakeviz and gprof2dot expect).
        for name in ("<built-in method builtins.len>",
                     "<built-in method builtins.sorted>",
                     "<method 'upper' of 'str' objects>",
                     "<method 'join' of 'str' objects>",
                     "<method 'get' of 'dict' objects>"):
            key = ("~", 0, name)
            self.assertIn(key, self.cstats.stats)
            self.assertIn(key, self.stats.stats, "builtin %s missing" % name)
            # Totals include calls from interpreter startup, which differ;
            # the calls made by the target's own functions must not.
            from_target = lambda st: sum(
                e[0] for c, e in st.stats[key][4].items() if self.in_target(c))
            self.assertEqual(from_target(self.stats), from_target(self.cstats),
                             name)


class TestRecursionFast(_TargetCase, unittest.TestCase):
    """Fast mode: every Python function's ncalls and pcalls are still
    cProfile's."""
    TARGET = "t_recursion.py"
    RUN_OPTS = ("--fast",)


class TestGeneratorsFast(_TargetCase, unittest.TestCase):
    TARGET = "t_generators.py"
    RUN_OPTS = ("--fast",)


class TestBuiltinsFast(_TargetCase, unittest.TestCase):
    TARGET = "t_builtins.py"
    ARGS = ("200",)
    RUN_OPTS = ("--fast",)

    def test_only_category_builtins(self):
        # On 3.12+ fast mode sees no C function but the catalog's (the C
        # pickler, lock acquires); the 3.11 profile hook has no fast mode.
        builtins = sorted(k[2] for k in self.stats.stats if k[0] == "~")
        if not MONITORING:
            self.assertIn("<built-in method builtins.len>", builtins)
            return
        allowed = ("_pickle", "_thread.", "_multiprocessing.SemLock")
        self.assertEqual([b for b in builtins
                          if not any(a in b for a in allowed)], [])


class TestThreads(_TargetCase, unittest.TestCase):
    TARGET = "t_threads.py"
    ARGS = ("50",)


@unittest.skipUnless(MONITORING, "needs sys.monitoring (Python 3.12+)")
class TestRawThreads(_TargetCase, unittest.TestCase):
    """Threads of _thread.start_new_thread, unknown to threading."""
    TARGET = "t_thread_raw.py"
    ARGS = ("40",)

    def test_not_made_known_to_threading(self):
        self.need_run()
        self.assertIn("known to threading False", self.run_.stdout)


@unittest.skipUnless(MONITORING, "needs sys.monitoring (Python 3.12+)")
class ThreadRunningAtStart(unittest.TestCase):
    """A thread already running when the collector starts (started by a
    sitecustomize that mpprof's chains before it starts the collector) is
    profiled from its next call on."""

    def test_counts(self):
        early = os.path.join(os.path.dirname(mpptest.target("t_thread_early.py")),
                             "early")
        path = os.environ.get("PYTHONPATH")
        r = mpptest.run([mpptest.target("t_thread_early.py"), "30"], test=self,
                        extra_env={"PYTHONPATH": early + (os.pathsep + path
                                                          if path else "")})
        self.assertEqual(r.returncode, 0, r.describe())
        self.assertIn("early thread True", r.stdout, r.describe())
        truth = r.truth()["thread_only"]
        self.assertEqual(truth, {"early_leaf": 30, "early_branch": 1})
        stats = mpptest.load_stats(r)
        for name, expected in sorted(truth.items()):
            self.assertEqual(mpptest.ncalls(stats, "early_thread.py", name),
                             expected, name)
        self.assertEqual(mpptest.ncalls(stats, "early_thread.py", "_worker"),
                         0, "the frame that was running at start is not a "
                         "call mpprof saw begin")


class ShimStartCost(unittest.TestCase):
    """Every profiled process starts through the shim, so what it costs
    is paid once per process (issue 12, acceptance 5): it runs from the
    bytecode the build cached beside it rather than compiling itself
    again, and in the default mode (the agent reads the mapping) it
    imports no module the program would not have imported itself."""

    def test_cached_and_no_signal(self):
        t = mpptest.target("t_shim_cost.py")
        plain = mpptest.run_python([t])
        self.assertEqual(plain.returncode, 0, plain.stderr)
        r = mpptest.run([t], test=self, extra_env={"MPPROF_MAPS": "1"})
        self.assertEqual(r.returncode, 0, r.describe())
        self.assertIn("shim cached True", r.stdout, r.describe())
        if "signal imported False" in plain.stdout:
            self.assertIn("signal imported False", r.stdout, r.describe())


class CodeMadeAnew(unittest.TestCase):
    """Code objects made anew for one function (exec'd source; joblib's
    loky workers get functions this way) count as that one function: every
    call, not only the last code object's, as cProfile's pstats would."""

    def test_every_call_counts(self):
        r = mpptest.run([mpptest.target("t_newcode.py"), "66", "15"],
                        test=self)
        self.assertEqual(r.returncode, 0, r.describe())
        stats = mpptest.load_stats(r)
        got = mpptest.ncalls(stats, "<anew>", "anew")
        if got != r.truth()["anew"]:
            self.fail("anew counted %d times, not %d\n%s\n%s" % (
                got, r.truth()["anew"], r.describe(),
                mpptest.profile_note(r.outdir)))


class TestCpuBound(_TargetCase, unittest.TestCase):
    TARGET = "t_cpu.py"
    ARGS = ("300",)
    CPU_BOUND = True


class ThreadIds(unittest.TestCase):
    """`report --json` names each thread by the kernel's id (as ps and /proc
    show it), whatever identity the collector gives it on the wire."""

    def test_thread_list_has_kernel_ids(self):
        r = mpptest.run([mpptest.target("t_thread_ids.py")], test=self)
        self.assertEqual(r.returncode, 0, r.describe())
        printed = {}
        main_pid = None
        for line in r.stdout.splitlines():
            word = line.split()
            if word[0] == "main":
                main_pid = int(word[1])
            else:
                printed[word[2]] = int(word[1])
        rep = mpptest.report_json(r.outdir)
        proc, = [p for p in rep["processes"] if p["pid"] == main_pid]
        got = {t["name"]: t for t in proc["thread_list"]}
        for name, tid in printed.items():
            self.assertIn(name, got, proc["thread_list"])
            self.assertEqual(got[name]["tid"], tid, got[name])
        # The first thread a process sees keeps serial 0 and its kernel id.
        self.assertEqual(got["MainThread"]["tid"], main_pid)
        self.assertEqual(got["MainThread"]["serial"], 0)
        serials = [got[n]["serial"] for n in printed]
        self.assertEqual(len(set(serials)), len(serials), serials)


if __name__ == "__main__":
    mpptest.main()
