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
  * --version (matches include/mpprof/mpprof.h) and --help.
"""

import hashlib
import json
import os
import re
import signal
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


if __name__ == "__main__":
    mpptest.main()
