"""Command-line contract (design.md "Command line"; issue: launcher/CLI).

Checks, against the real binary:
  * exit status passthrough: sys.exit(3) -> 3, uncaught exception -> 1,
    killed by SIGTERM / SIGKILL -> 128+N (and the profile is still written
    for SIGTERM);
  * SIGINT / SIGTERM sent to mpprof are forwarded to the target;
  * SCRIPT, -m MODULE and -c CODE work; script/module/code arguments are
    passed through untouched (including ones that look like mpprof options,
    empty ones, non-ASCII ones, a 100 kB one, 2000 of them); stdin is passed;
  * paths with spaces (script, cwd and output dir); default ./mpprof-out;
    -q leaves stdout exactly as the target wrote it; reusing an output dir;
  * errors are one line on stderr and a non-zero status, never a crash:
    missing script (and no output dir created), unwritable output dir
    (before the target runs), --python without a collector build or that
    does not exist, `report` on a nonexistent / empty / garbage / truncated
    file and on a directory without session.mpprof, bad report options;
  * --version (matches include/mpprof/mpprof.h) and --help;
  * the forms people type behind a launcher (TestRunForms): `python3
    [OPTS] SCRIPT|-m|-c`, with options passed on and the ones that would
    lose the collector refused, --python agreeing with the word, console
    scripts with a Python #! line; each compared with the plain run's
    stdout, stderr and exit status, counts with the target's own.
"""

import hashlib
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

OUTPUT_FILES = ("profile.prof", "callgrind.out", "session.mpprof", "report.txt")


def _version_from_header():
    with open(os.path.join(mpptest.SRC, "include", "mpprof", "mpprof.h")) as f:
        m = re.search(r'#define\s+MPPROF_VERSION_STRING\s+"([^"]+)"', f.read())
    return m.group(1)


class CliCase(unittest.TestCase):
    maxDiff = 4000

    def assertOneLineError(self, proc, mentions=None, usage=False):
        """Non-zero exit, exactly one non-empty stderr line, no traceback,
        not killed by a signal.  With USAGE (a bad option), a second line
        pointing to --help is allowed."""
        err = proc.stderr if isinstance(proc.stderr, str) else proc.stderr.decode(
            "utf-8", "replace")
        what = "exit %s, stderr:\n%s" % (proc.returncode, err)
        self.assertNotEqual(proc.returncode, 0, what)
        self.assertGreater(proc.returncode, 0, "killed by a signal? " + what)
        self.assertLess(proc.returncode, 128, "crashed? " + what)
        lines = mpptest.stderr_lines(err)
        if usage and len(lines) == 2 and "--help" in lines[1]:
            lines = lines[:1]
        self.assertEqual(len(lines), 1, "want exactly one stderr line; " + what)
        self.assertNotIn("Traceback", err)
        if mentions is not None:
            self.assertIn(mentions, lines[0], "the message should name %r" % mentions)
        return lines[0]

    def assertProfiled(self, r):
        self.assertTrue(os.path.isfile(r.path("profile.prof")),
                        "no profile.prof\n" + r.describe())
        return mpptest.load_stats(r)


class TestInfo(CliCase):
    def test_version(self):
        p = mpptest.mpprof(["--version"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(_version_from_header(), p.stdout)

    def test_help(self):
        p = mpptest.mpprof(["--help"])
        self.assertEqual(p.returncode, 0, p.stderr)
        for word in ("run", "report", "compare"):
            self.assertIn(word, p.stdout)

    def test_no_arguments(self):
        p = mpptest.mpprof([])
        self.assertNotEqual(p.returncode, 0)
        self.assertLess(p.returncode, 128)
        self.assertTrue(p.stderr.strip(), "no usage message")

    def test_unknown_command(self):
        p = mpptest.mpprof(["frobnicate"])
        self.assertNotEqual(p.returncode, 0)
        self.assertLess(p.returncode, 128)
        self.assertTrue(p.stderr.strip())
        self.assertNotIn("Traceback", p.stderr)

    def test_run_without_target(self):
        d = mpptest.mktemp(self)
        p = mpptest.mpprof(["run", "-o", os.path.join(d, "out")])
        self.assertNotEqual(p.returncode, 0)
        self.assertLess(p.returncode, 128)
        self.assertFalse(os.path.exists(os.path.join(d, "out")))


class TestExitStatus(CliCase):
    def test_exit_code_passthrough(self):
        r = mpptest.run(["-c", "import sys; sys.exit(3)"], test=self)
        self.assertEqual(r.returncode, 3, r.describe())
        self.assertProfiled(r)

    def test_exit_zero(self):
        r = mpptest.run(["-c", "pass"], test=self)
        self.assertEqual(r.returncode, 0, r.describe())
        self.assertProfiled(r)

    def test_uncaught_exception(self):
        r = mpptest.run(["-c", "def boom():\n    raise KeyError('zz')\nboom()\n"],
                        test=self)
        self.assertEqual(r.returncode, 1, r.describe())
        self.assertIn("KeyError", r.stderr, "the target's traceback is lost")
        self.assertProfiled(r)

    def test_killed_by_sigterm(self):
        r = mpptest.run([mpptest.target("t_signal_self.py"),
                         str(int(signal.SIGTERM)), "10"], test=self)
        self.assertEqual(r.returncode, 128 + signal.SIGTERM, r.describe())
        st = self.assertProfiled(r)
        # The collector flushes on SIGTERM before dying.
        self.assertEqual(mpptest.ncalls(st, "t_signal_self.py", "before_kill"), 10)

    def test_killed_by_sigkill(self):
        r = mpptest.run([mpptest.target("t_signal_self.py"),
                         str(int(signal.SIGKILL)), "10"], test=self)
        self.assertEqual(r.returncode, 128 + signal.SIGKILL, r.describe())

    def _signal_mpprof(self, sig, expect):
        d = mpptest.mktemp(self)
        out = os.path.join(d, "out")
        argv = [mpptest.BIN, "run", "-q", "-o", out, "--python", mpptest.PYTHON,
                mpptest.target("t_sleeper.py"), "25"]
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, cwd=d)
        try:
            line = p.stdout.readline()
            self.assertEqual(line.strip(), "READY")
            time.sleep(0.3)
            p.send_signal(sig)
            stdout, stderr = p.communicate(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, expect, stderr)
        self.assertTrue(os.path.isfile(os.path.join(out, "profile.prof")),
                        "no profile after %s: %s" % (sig, stderr))
        st = mpptest.load_stats(out)
        self.assertEqual(mpptest.ncalls(st, "t_sleeper.py", "tick"), 25)
        self.assertEqual(mpptest.ncalls(st, "t_sleeper.py", "sleeper"), 1)

    def test_sigint_forwarded(self):
        # KeyboardInterrupt propagates; Python then dies of SIGINT: 130.
        self._signal_mpprof(signal.SIGINT, 128 + signal.SIGINT)

    def test_sigterm_forwarded(self):
        self._signal_mpprof(signal.SIGTERM, 128 + signal.SIGTERM)


class TestTargets(CliCase):
    def test_module(self):
        r = mpptest.run(["-m", "t_climod", "7", "x y"], test=self,
                        cwd=mpptest.TARGETS)
        self.assertEqual(r.returncode, 0, r.describe())
        out = json.loads(r.stdout.strip().splitlines()[-1])
        self.assertEqual(out["argv"], ["7", "x y"])
        self.assertTrue(out["argv0"].endswith("t_climod.py"), out["argv0"])
        st = self.assertProfiled(r)
        self.assertEqual(mpptest.ncalls(st, "t_climod.py", "climod_work"), out["calls"])

    def test_code(self):
        n = 11
        code = ("import sys\n"
                "def in_code(i):\n    return i\n"
                "for i in range(%d):\n    in_code(i)\n"
                "print(repr(sys.argv))\n" % n)
        r = mpptest.run(["-c", code, "a", "-q", "b c"], test=self)
        self.assertEqual(r.returncode, 0, r.describe())
        self.assertEqual(r.stdout.strip(), repr(["-c", "a", "-q", "b c"]))
        st = self.assertProfiled(r)
        self.assertEqual(mpptest.ncalls(st, "<string>", "in_code"), n,
                         sorted(k for k in st.stats if k[2] == "in_code"))

    def test_script_args_passthrough(self):
        args = ["a b", "", "-o", "/nonexistent", "-q", "--python", "nope",
                "-m", "-c", "--", "--version", "ünïcødé ☃", "$HOME", "*",
                "x\ny", "'\"", "--interval=1"]
        script = mpptest.target("t_argv.py")
        r = mpptest.run([script] + args, test=self)
        self.assertEqual(r.returncode, 0, r.describe())
        lines = r.stdout.splitlines()
        self.assertEqual(json.loads(lines[0]), {"argv": args})
        self.assertEqual(lines[1], "ARGV0 " + script)

    def test_long_arguments(self):
        big = "x" * 100000
        args = [big] + ["arg%d" % i for i in range(2000)]
        h = hashlib.sha256("\0".join(args).encode()).hexdigest()
        r = mpptest.run([mpptest.target("t_argv.py")] + args, test=self)
        self.assertEqual(r.returncode, 0, r.describe())
        self.assertEqual(json.loads(r.stdout.splitlines()[0]),
                         {"argc": len(args), "sha256": h})
        self.assertProfiled(r)

    def test_stdin_passthrough(self):
        r = mpptest.run(["-c", "import sys; print(sys.stdin.read().upper())"],
                        test=self, input="hello mpprof\n")
        self.assertEqual(r.returncode, 0, r.describe())
        self.assertEqual(r.stdout, "HELLO MPPROF\n\n")

    def test_paths_with_spaces(self):
        d = mpptest.mktemp(self)
        sd = os.path.join(d, "dir with spaces")
        os.makedirs(sd)
        script = os.path.join(sd, "my script.py")
        with open(script, "w") as f:
            f.write("def spaced(i):\n    return i\n\n"
                    "for i in range(9):\n    spaced(i)\nprint('ok')\n")
        out = os.path.join(d, "out dir", "sub dir")
        r = mpptest.run([script], test=self, outdir=out, cwd=sd)
        self.assertEqual(r.returncode, 0, r.describe())
        self.assertEqual(r.stdout, "ok\n")
        st = self.assertProfiled(r)
        self.assertEqual(mpptest.ncalls(st, "my script.py", "spaced"), 9)
        # A relative script path with a space, from a cwd with spaces.
        r2 = mpptest.run(["my script.py"], test=self,
                         outdir=os.path.join(d, "out 2"), cwd=sd)
        self.assertEqual(r2.returncode, 0, r2.describe())
        self.assertEqual(mpptest.ncalls(self.assertProfiled(r2), "my script.py",
                                        "spaced"), 9)
        p = mpptest.mpprof(["report", out])
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_default_output_dir(self):
        d = mpptest.mktemp(self)
        r = mpptest.run(["-c", "print('hi')"], test=self, outdir=False, cwd=d)
        self.assertEqual(r.returncode, 0, r.describe())
        for f in OUTPUT_FILES:
            self.assertTrue(os.path.isfile(os.path.join(d, "mpprof-out", f)), f)

    def test_output_dir_contents_and_reuse(self):
        d = mpptest.mktemp(self)
        out = os.path.join(d, "out")
        for i in range(2):
            r = mpptest.run(["-c", "def f%d():\n    pass\nf%d()\n" % (i, i)],
                            test=self, outdir=out)
            self.assertEqual(r.returncode, 0, r.describe())
        names = sorted(os.listdir(out))
        for f in OUTPUT_FILES:
            self.assertIn(f, names)
        leftovers = [n for n in names if n.startswith(".") or "tmp" in n
                     or n.endswith("~") or n.startswith("callgrind.out.")]
        self.assertEqual(leftovers, [], "temporary or per-process files "
                         "left in the output dir: %r" % names)
        st = mpptest.load_stats(out)
        self.assertEqual(mpptest.ncalls(st, "<string>", "f1"), 1)
        self.assertEqual(mpptest.ncalls(st, "<string>", "f0"), 0,
                         "the second run did not replace the first profile")

    def test_quiet_and_report(self):
        code = "print('target says hi')"
        r = mpptest.run(["-c", code], test=self, quiet=True)
        self.assertEqual(r.returncode, 0, r.describe())
        self.assertEqual(r.stdout, "target says hi\n")
        self.assertEqual(r.stderr, "")
        r2 = mpptest.run(["-c", code], test=self, quiet=False)
        self.assertEqual(r2.returncode, 0, r2.describe())
        self.assertIn("target says hi\n", r2.stdout)
        with open(r2.path("report.txt")) as f:
            report = f.read()
        self.assertTrue(report.strip())
        self.assertIn(report.strip().splitlines()[0], r2.stdout + r2.stderr,
                      "without -q, the report is printed at the end")

    def test_interval_option(self):
        r = mpptest.run(["-c", "pass"], test=self, run_opts=["--interval", "20"])
        self.assertEqual(r.returncode, 0, r.describe())
        self.assertProfiled(r)


class TestErrors(CliCase):
    def test_missing_script(self):
        d = mpptest.mktemp(self)
        out = os.path.join(d, "out")
        missing = os.path.join(d, "no_such_script.py")
        r = mpptest.run([missing], test=self, outdir=out)
        self.assertOneLineError(r.proc, mentions="no_such_script.py")
        self.assertFalse(os.path.exists(out), "output dir created anyway")

    def test_missing_script_default_dir(self):
        d = mpptest.mktemp(self)
        r = mpptest.run(["no_such_script.py"], test=self, outdir=False, cwd=d)
        self.assertOneLineError(r.proc, mentions="no_such_script.py")
        self.assertFalse(os.path.exists(os.path.join(d, "mpprof-out")))

    def test_unwritable_output_dir(self):
        d = mpptest.mktemp(self)
        marker = os.path.join(d, "marker")
        for bad in ("/dev/null/sub", "/proc/mpprof-test-out"):
            r = mpptest.run([mpptest.target("t_argv.py")], test=self, outdir=bad,
                            extra_env={"MPPTEST_MARKER": marker})
            self.assertOneLineError(r.proc, mentions=bad)
            self.assertFalse(os.path.exists(marker),
                             "%s: the target ran although its profile could "
                             "never be written" % bad)

    def test_output_dir_is_a_file(self):
        d = mpptest.mktemp(self)
        f = os.path.join(d, "afile")
        with open(f, "w") as fh:
            fh.write("keep me\n")
        r = mpptest.run(["-c", "pass"], test=self, outdir=f)
        self.assertOneLineError(r.proc, mentions=f)
        with open(f) as fh:
            self.assertEqual(fh.read(), "keep me\n")

    def test_python_without_collector(self):
        d = mpptest.mktemp(self)
        fake = os.path.join(d, "python3.99")
        with open(fake, "w") as f:
            f.write("#!/bin/sh\n"
                    "# claims another ABI whatever it is asked\n"
                    "echo '.cpython-399-x86_64-linux-gnu.so'\n"
                    "exit 0\n")
        os.chmod(fake, 0o755)
        out = os.path.join(d, "out")
        r = mpptest.run(["-c", "pass"], test=self, python=fake, outdir=out)
        self.assertOneLineError(r.proc)
        self.assertFalse(os.path.exists(os.path.join(out, "profile.prof")))

    def test_python_nonexistent(self):
        d = mpptest.mktemp(self)
        missing = os.path.join(d, "no", "python3")
        r = mpptest.run(["-c", "pass"], test=self, python=missing,
                        outdir=os.path.join(d, "out"))
        self.assertOneLineError(r.proc, mentions=missing)

    def test_python_not_executable(self):
        d = mpptest.mktemp(self)
        notexe = os.path.join(d, "python3")
        with open(notexe, "w") as f:
            f.write("not a program\n")
        r = mpptest.run(["-c", "pass"], test=self, python=notexe,
                        outdir=os.path.join(d, "out"))
        self.assertOneLineError(r.proc)

    def _good_session(self):
        if not hasattr(type(self), "_session_bytes"):
            r = mpptest.run(["-c", "def g():\n    pass\nfor i in range(50):\n    g()\n"])
            try:
                if r.returncode != 0:
                    self.fail("mpprof run failed\n" + r.describe())
                with open(r.path("session.mpprof"), "rb") as f:
                    type(self)._session_bytes = f.read()
            finally:
                r.cleanup()
        return type(self)._session_bytes

    def _report_bytes(self, data, name="session.mpprof"):
        d = mpptest.mktemp(self)
        path = os.path.join(d, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def _assert_report_rejects(self, path, mentions=None):
        for extra in ([], ["--json"]):
            p = mpptest.mpprof(["report", path] + extra)
            self.assertOneLineError(p, mentions)
            self.assertEqual(p.stdout, "", "half-written report output")

    def test_report_nonexistent(self):
        d = mpptest.mktemp(self)
        missing = os.path.join(d, "nope", "session.mpprof")
        self._assert_report_rejects(missing, mentions=missing)

    def test_report_empty_file(self):
        self._assert_report_rejects(self._report_bytes(b""))

    def test_report_garbage(self):
        import random
        rng = random.Random(1234)
        garbage = bytes(rng.randrange(256) for _ in range(4096))
        self._assert_report_rejects(self._report_bytes(garbage))
        self._assert_report_rejects(self._report_bytes(b"hello, world\n" * 100))
        self._assert_report_rejects(self._report_bytes(
            json.dumps({"processes": []}).encode()))

    def test_report_truncated(self):
        good = self._good_session()
        ok = mpptest.mpprof(["report", self._report_bytes(good)])
        self.assertEqual(ok.returncode, 0, ok.stderr)
        for cut in (len(good) // 2, len(good) - 1, 8, 9, 16):
            if 0 < cut < len(good):
                self._assert_report_rejects(self._report_bytes(good[:cut]))

    def test_report_corrupted(self):
        good = bytearray(self._good_session())
        # Flip bytes after the header in a few places; the reader must
        # either reject the file with one line or read it, never crash.
        for pos in range(16, len(good), max(1, len(good) // 7)):
            bad = bytearray(good)
            bad[pos] ^= 0xFF
            p = mpptest.mpprof(["report", self._report_bytes(bytes(bad)), "--json"])
            self.assertGreaterEqual(p.returncode, 0, "crashed at byte %d" % pos)
            self.assertLess(p.returncode, 128, "crashed at byte %d" % pos)
            if p.returncode != 0:
                self.assertEqual(len(mpptest.stderr_lines(p.stderr)), 1, p.stderr)
            else:
                json.loads(p.stdout)

    def test_report_wrong_version(self):
        good = bytearray(self._good_session())
        self.assertEqual(bytes(good[:8]), b"MPPROF\0\n", "session file magic")
        # The version follows the magic; claim a far-future one.
        bad = bytes(good[:8]) + b"\xcd\xff\xff" + bytes(good[11:])
        p = mpptest.mpprof(["report", self._report_bytes(bad)])
        self.assertOneLineError(p)

    def test_report_dir_without_session(self):
        d = mpptest.mktemp(self)
        self._assert_report_rejects(d)

    def test_report_options(self):
        good = self._report_bytes(self._good_session())
        for extra in (["--sort", "tottime"], ["--sort", "calls"],
                      ["--sort", "cumulative"], ["--limit", "3"],
                      ["--process", "MainProcess"], ["--json", "--limit", "1"]):
            p = mpptest.mpprof(["report", good] + extra)
            self.assertEqual(p.returncode, 0, "%r: %s" % (extra, p.stderr))
            self.assertTrue(p.stdout.strip(), extra)
        rep = json.loads(mpptest.mpprof(["report", good, "--json"]).stdout)
        pid = rep["processes"][0]["pid"]
        p = mpptest.mpprof(["report", good, "--process", str(pid)])
        self.assertEqual(p.returncode, 0, p.stderr)
        p = mpptest.mpprof(["report", good, "--json", "--limit", "1"])
        self.assertLessEqual(len(json.loads(p.stdout)["functions"]), 1)
        self.assertOneLineError(
            mpptest.mpprof(["report", good, "--sort", "bogus"]), usage=True)
        self.assertOneLineError(
            mpptest.mpprof(["report", good, "--limit", "abc"]), usage=True)
        self.assertOneLineError(
            mpptest.mpprof(["report", good, "--process", "NoSuchProcess-9"]))


class TestRunForms(CliCase):
    """`mpprof run python3 ...` and console scripts: what mpirun, srun or
    a shell is given.  The plain run of the same words is the reference
    for stdout, stderr and exit status; the target's printed truth for
    the counts."""

    def setUp(self):
        self.script = mpptest.target("t_forms.py")
        # A PATH whose python3 is the interpreter this build serves, as
        # `python3` on a user's PATH is: a symlink to it.
        self.bindir = mpptest.mktemp(self, "mpptest-forms-bin-")
        os.symlink(mpptest.PYTHON, os.path.join(self.bindir, "python3"))
        self.env = dict(os.environ, PATH=self.bindir + os.pathsep +
                        os.environ.get("PATH", ""))
        # Not bindir: a bare name is a file in the working directory first.
        self.cwd = mpptest.mktemp(self, "mpptest-forms-cwd-")

    def plain(self, argv, cwd=None):
        return subprocess.run(argv, capture_output=True, text=True,
                              env=self.env, cwd=cwd or self.cwd,
                              timeout=mpptest.DEFAULT_TIMEOUT)

    def form(self, args, python=False, cwd=None):
        """`mpprof run -q -o OUT [--python PY] ARGS` with self.env."""
        return mpptest.run(args, test=self, python=python, env=self.env,
                           cwd=cwd or self.cwd)

    def assertSameAsPlain(self, r, plain):
        self.assertEqual((r.returncode, r.stdout, r.stderr),
                         (plain.returncode, plain.stdout, plain.stderr),
                         r.describe())

    def assertNothingRun(self, r):
        self.assertEqual(r.stdout, "", r.describe())
        self.assertFalse(os.path.exists(r.outdir), "output dir created")

    def test_python3_script_exact_counts(self):
        words = ["python3", self.script, "13", "3"]
        plain = self.plain(words)
        self.assertEqual(plain.returncode, 3, plain.stderr)
        r = self.form(words)
        self.assertSameAsPlain(r, plain)
        st = self.assertProfiled(r)
        truth = r.truth()
        self.assertEqual(truth, {"form_work": 13})
        self.assertEqual(mpptest.ncalls(st, "t_forms.py", "form_work"),
                         truth["form_work"])

    def test_interpreter_as_a_path(self):
        words = [mpptest.PYTHON, self.script, "6"]
        plain = self.plain(words)
        r = self.form(words)
        self.assertSameAsPlain(r, plain)
        self.assertEqual(mpptest.ncalls(self.assertProfiled(r), "t_forms.py",
                                        "form_work"), r.truth()["form_work"])

    def test_python3_module(self):
        words = ["python3", "-m", "t_climod", "7", "x y"]
        plain = self.plain(words, cwd=mpptest.TARGETS)
        self.assertEqual(plain.returncode, 0, plain.stderr)
        r = self.form(words, cwd=mpptest.TARGETS)
        self.assertSameAsPlain(r, plain)
        out = json.loads(r.stdout.strip().splitlines()[-1])
        self.assertEqual(out["argv"], ["7", "x y"])
        st = self.assertProfiled(r)
        self.assertEqual(mpptest.ncalls(st, "t_climod.py", "climod_work"),
                         out["calls"])

    def test_python3_code(self):
        code = ("import json, sys\n"
                "def in_code(i):\n    return i\n"
                "n = int(sys.argv[1])\n"
                "for i in range(n):\n    in_code(i)\n"
                "print('MPPTEST_TRUTH ' + json.dumps({'in_code': n}))\n"
                "print(repr(sys.argv))\n"
                "sys.exit(4)\n")
        # -uc: a combined flag group that ends in -c, its value next.
        words = ["python3", "-uc", code, "9", "-q", "b c"]
        plain = self.plain(words)
        self.assertEqual(plain.returncode, 4, plain.stderr)
        r = self.form(words)
        self.assertSameAsPlain(r, plain)
        self.assertIn(repr(["-c", "9", "-q", "b c"]), r.stdout)
        st = self.assertProfiled(r)
        self.assertEqual(mpptest.ncalls(st, "<string>", "in_code"),
                         r.truth()["in_code"])

    def test_python_options_passed_on(self):
        words = ["python3", "-O", "-X", "mpp_form=1",
                 "-Werror::DeprecationWarning", "-sB", self.script, "5"]
        plain = self.plain(words)
        r = self.form(words)
        self.assertSameAsPlain(r, plain)
        seen = json.loads(r.stdout.splitlines()[-1])
        # What the plain run shows, said explicitly: the options arrived.
        self.assertEqual((seen["debug"], seen["optimize"], seen["xoptions"],
                          seen["warnoptions"]),
                         (False, 1, {"mpp_form": "1"},
                          ["error::DeprecationWarning"]))
        self.assertEqual(mpptest.ncalls(self.assertProfiled(r), "t_forms.py",
                                        "form_work"), r.truth()["form_work"])
        # -OO and --check-hash-based-pycs with its value.
        words = ["python3", "-OO", "--check-hash-based-pycs", "never",
                 self.script, "2"]
        plain = self.plain(words)
        r = self.form(words)
        self.assertSameAsPlain(r, plain)
        self.assertEqual(json.loads(r.stdout.splitlines()[-1])["optimize"], 2)

    def test_refused_options_one_line(self):
        cases = [("-E", "-E"), ("-I", "-I"), ("-S", "-S"), ("-i", "-i"),
                 ("-V", "-V"), ("--version", "--version"), ("-h", "-h"),
                 ("--help", "--help"), ("-uE", "-E"),
                 ("-", "standard input")]
        for opt, mention in cases:
            with self.subTest(opt=opt):
                r = self.form(["python3", opt, self.script, "3"])
                line = self.assertOneLineError(r.proc, mentions=mention)
                self.assertTrue(line.startswith("mpprof: "), line)
                self.assertNothingRun(r)
        r = self.form(["python3"])
        self.assertOneLineError(r.proc, mentions="python3")
        self.assertNothingRun(r)

    def test_python_option_must_agree(self):
        # A wrapper that execs the same Python (as pyenv's shim does) is
        # that Python: the probe sees through it.
        wdir = mpptest.mktemp(self)
        wrapper = os.path.join(wdir, "python3")
        with open(wrapper, "w") as f:
            f.write('#!/bin/sh\nexec "%s" "$@"\n' % mpptest.PYTHON)
        os.chmod(wrapper, 0o755)
        r = self.form([wrapper, self.script, "3"], python=mpptest.PYTHON)
        self.assertEqual(r.returncode, 0, r.describe())
        self.assertEqual(mpptest.ncalls(self.assertProfiled(r), "t_forms.py",
                                        "form_work"), r.truth()["form_work"])
        # One that adds an option of its own runs something else: refused
        # before anything runs.
        os.mkdir(os.path.join(wdir, "other"))
        other = os.path.join(wdir, "other", "python3")
        with open(other, "w") as f:
            f.write('#!/bin/sh\nexec "%s" -B "$@"\n' % mpptest.PYTHON)
        os.chmod(other, 0o755)
        r = self.form([other, self.script, "3"], python=mpptest.PYTHON)
        self.assertOneLineError(r.proc, mentions="--python")
        self.assertNothingRun(r)
        # The same interpreter under two names is one.
        r = self.form(["python3", self.script, "8"], python=mpptest.PYTHON)
        self.assertEqual(r.returncode, 0, r.describe())
        self.assertEqual(mpptest.ncalls(self.assertProfiled(r), "t_forms.py",
                                        "form_work"), r.truth()["form_work"])

    def test_named_python_but_not_one(self):
        # Named like an interpreter, it is one only if the launcher's
        # probe says so.
        fake = os.path.join(mpptest.mktemp(self), "python3.11")
        with open(fake, "w") as f:
            f.write("#!/bin/sh\necho not a python\n")
        os.chmod(fake, 0o755)
        r = self.form([fake, self.script, "3"])
        self.assertOneLineError(r.proc, mentions="does not look like a "
                                "Python interpreter")
        self.assertNothingRun(r)
        r = self.form(["python3.999", self.script])
        self.assertOneLineError(r.proc, mentions="cannot run 'python3.999'")
        self.assertNothingRun(r)

    def _console_script(self, name, shebang):
        path = os.path.join(self.bindir, name)
        with open(path, "w") as f:
            f.write("#!%s\n"
                    "import sys\n"
                    "sys.path.insert(0, %r)\n"
                    "import t_forms\n"
                    "sys.exit(t_forms.main())\n" % (shebang, mpptest.TARGETS))
        os.chmod(path, 0o755)
        return path

    def test_console_script_exact_counts(self):
        self._console_script("mpp-forms-tool", mpptest.PYTHON)
        words = ["mpp-forms-tool", "11", "5"]
        plain = self.plain(words)
        self.assertEqual(plain.returncode, 5, plain.stderr)
        r = self.form(words)
        self.assertSameAsPlain(r, plain)
        # sys.argv[0] is the script's path, as the kernel gives it.
        seen = json.loads(r.stdout.splitlines()[-1])
        self.assertEqual(seen["argv"][0],
                         os.path.join(self.bindir, "mpp-forms-tool"))
        st = self.assertProfiled(r)
        self.assertEqual(mpptest.ncalls(st, "t_forms.py", "form_work"),
                         r.truth()["form_work"])

    def test_console_script_env_shebang_with_option(self):
        # `env -S` splits the line: python3 from PATH, with -O.
        path = self._console_script("mpp-forms-env", "/usr/bin/env -S "
                                    "python3 -O")
        for words in (["mpp-forms-env", "4"], [path, "4"]):
            with self.subTest(words=words[0]):
                plain = self.plain(words)
                self.assertEqual(plain.returncode, 0, plain.stderr)
                r = self.form(words)
                self.assertSameAsPlain(r, plain)
                self.assertFalse(json.loads(r.stdout.splitlines()[-1])["debug"])
                self.assertEqual(mpptest.ncalls(self.assertProfiled(r),
                                                "t_forms.py", "form_work"), 4)

    def test_python3_script_in_cwd_wins(self):
        d = mpptest.mktemp(self)
        with open(os.path.join(d, "python3"), "w") as f:
            f.write("def here(i):\n    return i\n"
                    "for i in range(6):\n    here(i)\nprint('local')\n")
        r = self.form(["python3"], python=mpptest.PYTHON, cwd=d)
        self.assertEqual((r.returncode, r.stdout), (0, "local\n"),
                         r.describe())
        self.assertEqual(mpptest.ncalls(self.assertProfiled(r), "python3",
                                        "here"), 6)

    def test_not_python_is_refused(self):
        if shutil.which("ls", path=self.env["PATH"]) is None:
            self.skipTest("no ls in PATH")
        r = self.form(["ls", "-l"])
        line = self.assertOneLineError(r.proc)
        self.assertEqual(line, "mpprof: 'ls' is not a Python script or "
                               "interpreter")
        self.assertNothingRun(r)
        # A shell script from PATH is no Python script either.
        sh = os.path.join(self.bindir, "mpp-forms-sh")
        with open(sh, "w") as f:
            f.write("#!/bin/sh\necho hi\n")
        os.chmod(sh, 0o755)
        r = self.form(["mpp-forms-sh"])
        self.assertOneLineError(r.proc, mentions="'mpp-forms-sh' is not a "
                                "Python script")
        self.assertNothingRun(r)


if __name__ == "__main__":
    mpptest.main()
