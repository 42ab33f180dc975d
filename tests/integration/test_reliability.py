"""Reliability and security of `mpprof run` and `mpprof report` (issue 6).

Each test injects one fault and checks what the issue promises:

  socket   the session directory is private and holds only the socket;
           hostile frames sent to the live socket are counted as rejected
           and change nothing in the profile.
  program  whatever the profiled program does to its own process (deep
           recursion, a thousand threads, fork, exec, closing descriptors,
           its own profile function...), its output and exit status are
           those of a plain run, and mpprof exits with that status.
  signals  Ctrl-C to the process group, SIGINT/SIGTERM to mpprof alone,
           and SIGKILL to mpprof.
  output   a full disk or a read-only output directory costs one error line
           and leaves the previous profile there byte for byte.
  files    bad profiles given to `report`, very long arguments, non-UTF-8
           and space-holding paths.

A check that fails because of a known collector bug is marked
expectedFailure with the bug in its docstring: once the collector is fixed
it passes, the suite reports an unexpected success, and the mark goes.
"""

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpptest  # noqa: E402

TIMEOUT = 120
LINGER_S = 3.0  # the collector's default MPPROF_LINGER_MS
OUTPUTS = ("profile.prof", "callgrind.out", "callgrind.parts",
           "session.mpprof", "trace.json", "report.html", "report.txt")


def mpprof_lines(text):
    """mpprof's own lines on a stderr (str or bytes)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return [l for l in (text or "").splitlines() if l.startswith("mpprof")]


def checksums(d):
    out = {}
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), "rb") as f:
            out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


class SocketTest(unittest.TestCase):

    def test_session_dir_is_private(self):
        r = mpptest.run([mpptest.target("rel_session.py")], test=self)
        self.assertEqual(r.returncode, 0, r.describe())
        t = r.truth()
        self.assertTrue(t["endpoint"].startswith("ipc://"), t)
        self.assertTrue(t["dir_is_dir"], t)
        self.assertEqual(t["dir_mode"], 0o700, t)
        self.assertEqual(t["dir_uid"], os.getuid(), t)
        self.assertEqual(os.path.dirname(t["sock"]), t["dir"], t)
        self.assertTrue(t["sock_is_socket"], t)
        self.assertEqual(t["sock_uid"], os.getuid(), t)
        self.assertEqual(t["dir_entries"], ["agg.sock"], t)
        self.assertFalse(os.path.exists(t["dir"]),
                         "session directory left behind: %s" % t["dir"])

    def test_hostile_frames_are_rejected_and_change_nothing(self):
        r = mpptest.run([mpptest.target("rel_frames.py")], test=self,
                        run_opts=["--interval", "20"])
        self.assertEqual(r.returncode, 0, r.describe())
        truth = r.truth()
        self.assertEqual(truth["rejected"], 13, r.describe())
        rep = mpptest.report_json(r.outdir)
        integ = rep["integrity"]
        self.assertEqual(integ["rejected"], truth["rejected"], integ)
        self.assertEqual(integ["seq_gaps"], 0, integ)
        self.assertEqual(integ["processes_lost"], 0, integ)
        self.assertEqual(len(rep["processes"]), 1, rep["processes"])
        self.assertEqual(mpptest.json_ncalls(rep, "rel_frames.py", "work"),
                         truth["work"])
        self.assertEqual(
            [f for f in rep["functions"] if f["name"] == "intruder"], [])
        stats = mpptest.load_stats(r)
        self.assertEqual(mpptest.ncalls(stats, "rel_frames.py", "work"),
                         truth["work"])
        self.assertEqual([k for k in stats.stats if k[2] == "intruder"], [])


class ProgramTest(unittest.TestCase):
    """The program's stdout, stderr and exit status under mpprof equal
    those of a plain run."""

    def same_as_plain(self, args, status=0):
        cwd = mpptest.mktemp(self)
        plain = mpptest.run_python(args, cwd=cwd, timeout=TIMEOUT)
        self.assertEqual(plain.returncode, status, plain.stderr)
        r = mpptest.run(args, test=self, cwd=cwd, timeout=TIMEOUT)
        self.assertEqual(r.stdout, plain.stdout, r.describe())
        self.assertEqual(r.stderr, plain.stderr, r.describe())
        self.assertEqual(r.returncode, status, r.describe())
        return r

    def test_deep_recursion(self):
        r = self.same_as_plain([mpptest.target("rel_deep.py"), "15000"])
        stats = mpptest.load_stats(r)
        self.assertEqual(mpptest.ncalls(stats, "rel_deep.py", "down"), 15001)
        self.assertEqual(mpptest.pcalls(stats, "rel_deep.py", "down"), 1)

    def test_thousand_threads(self):
        r = self.same_as_plain([mpptest.target("rel_threads.py"), "1000"])
        stats = mpptest.load_stats(r)
        self.assertEqual(mpptest.ncalls(stats, "rel_threads.py", "work"), 1000)

    def test_generators_and_asyncio(self):
        """Every function of the script, coroutines and async generators
        included, counted as cProfile of the same interpreter counts it."""
        args = [mpptest.target("rel_async.py")]
        r = self.same_as_plain(args)
        stats = mpptest.load_stats(r)
        _, truth = mpptest.cprofile(args, test=self)
        want = {ident: truth.stats[k][:2] for ident, k in
                mpptest.file_functions(truth, "rel_async.py").items()}
        got = {ident: stats.stats[k][:2] for ident, k in
               mpptest.file_functions(stats, "rel_async.py").items()}
        self.assertIn((16, "worker"), want, "the target lost its coroutine")
        if got != want:
            rep = mpptest.report_json(r.outdir)
            self.fail("counts differ from cProfile's: %r != %r\n"
                      "processes: %r\nnotes: %r\n%s" % (
                          got, want, rep.get("processes"), rep.get("notes"),
                          r.describe()))

    def test_exceptions_through_profiled_frames(self):
        r = self.same_as_plain([mpptest.target("rel_raise.py")], status=1)
        stats = mpptest.load_stats(r)
        self.assertEqual(mpptest.ncalls(stats, "rel_raise.py", "catcher"), 200)

    def test_fork_without_multiprocessing(self):
        r = self.same_as_plain([mpptest.target("rel_fork.py")])
        stats = mpptest.load_stats(r)
        for name in ("child_work", "parent_work"):
            self.assertEqual(mpptest.ncalls(stats, "rel_fork.py", name), 1)

    def test_exec_into_python(self):
        """os.execv into another Python: the image before the exec sends
        its last batch and BYE first, so no note line appears."""
        self.same_as_plain([mpptest.target("rel_exec.py"), "python"],
                           status=5)

    def test_exec_into_other_program(self):
        self.same_as_plain([mpptest.target("rel_exec.py"), "true"])

    def test_exec_keeps_the_status_and_the_profile_before(self):
        """The exit status, the output, and the calls made before the
        exec."""
        cwd = mpptest.mktemp(self)
        for how, status in (("python", 5), ("true", 0)):
            args = [mpptest.target("rel_exec.py"), how]
            plain = mpptest.run_python(args, cwd=cwd, timeout=TIMEOUT)
            r = mpptest.run(args, test=self, cwd=cwd, timeout=TIMEOUT)
            self.assertEqual(plain.returncode, status)
            self.assertEqual(r.returncode, status, r.describe())
            self.assertEqual(r.stdout, plain.stdout, r.describe())
            stats = mpptest.load_stats(r)
            self.assertEqual(
                mpptest.ncalls(stats, "rel_exec.py", "before_exec"), 1)

    def test_chdir(self):
        self.same_as_plain([mpptest.target("rel_fds.py"), "chdir"])

    def test_closerange(self):
        """os.closerange(3, 1024) must not close the collector's socket
        from under libzmq (which would abort the program)."""
        self.same_as_plain([mpptest.target("rel_fds.py"), "closerange"])

    def test_own_profile_function(self):
        r = self.same_as_plain([mpptest.target("rel_setprofile.py")])
        self.assertIn("seen 20 10", r.stdout)


class SignalTest(unittest.TestCase):

    def start(self, args, env=None):
        """Starts `mpprof run` as a shell starts a job: in a new session
        and process group, with the target inside it.  Returns the Popen
        and the target's first line."""
        mpptest.check_binary()
        tmp = mpptest.mktemp(self)
        self.outdir = os.path.join(tmp, "out")
        argv = [mpptest.BIN, "run", "-q", "-o", self.outdir,
                "--python", mpptest.PYTHON] + list(args)
        p = subprocess.Popen(argv, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, cwd=tmp, env=env,
                             start_new_session=True)
        self.addCleanup(self.reap, p)
        line = p.stdout.readline().decode()
        self.assertTrue(line.startswith("READY"), line)
        # Lets the target get into its loop and send some data.
        time.sleep(0.3)
        return p, line

    @staticmethod
    def reap(p):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        p.communicate()

    def test_ctrl_c_to_the_process_group(self):
        p, _ = self.start([mpptest.target("rel_loop.py"), "30"])
        os.killpg(p.pid, signal.SIGINT)
        out, err = p.communicate(timeout=TIMEOUT)
        err = err.decode()
        # Python ends an unhandled KeyboardInterrupt by dying of SIGINT,
        # which a shell shows as 130; mpprof exits with that.
        self.assertEqual(p.returncode, 128 + signal.SIGINT, err)
        own = [l for l in err.splitlines() if not l.startswith("mpprof")]
        self.assertEqual(own[0], "Traceback (most recent call last):", err)
        self.assertEqual(own[-1], "KeyboardInterrupt", err)
        # A second SIGINT would have broken into the traceback, which
        # then misses source lines: every frame shows one.
        frames = [i for i, l in enumerate(own) if l.startswith("  File ")]
        for i in frames:
            self.assertTrue(own[i + 1].startswith("    "), err)
        stats = mpptest.load_stats(self.outdir)
        self.assertGreater(mpptest.ncalls(stats, "rel_loop.py", "spin"), 0)

    def test_group_signal_reaches_the_target_once(self):
        p, _ = self.start([mpptest.target("rel_sigcount.py")])
        os.killpg(p.pid, signal.SIGINT)
        out, err = p.communicate(timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("SIGINT 1 SIGTERM 0", out.decode())

    def test_sigint_to_mpprof_is_forwarded_once(self):
        p, _ = self.start([mpptest.target("rel_sigcount.py")])
        os.kill(p.pid, signal.SIGINT)
        out, err = p.communicate(timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("SIGINT 1 SIGTERM 0", out.decode())

    def test_sigterm_to_mpprof_is_forwarded_once(self):
        p, _ = self.start([mpptest.target("rel_sigcount.py")])
        os.kill(p.pid, signal.SIGTERM)
        out, err = p.communicate(timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("SIGINT 0 SIGTERM 1", out.decode())
        self.assertTrue(os.path.exists(os.path.join(self.outdir,
                                                    "profile.prof")))

    def test_sigterm_to_mpprof_ends_a_default_target(self):
        p, _ = self.start([mpptest.target("rel_loop.py"), "30"])
        os.kill(p.pid, signal.SIGTERM)
        out, err = p.communicate(timeout=TIMEOUT)
        self.assertEqual(p.returncode, 128 + signal.SIGTERM, err)
        stats = mpptest.load_stats(self.outdir)
        self.assertGreater(mpptest.ncalls(stats, "rel_loop.py", "spin"), 0)

    def test_killed_aggregator_never_hangs_the_target(self):
        seconds = 2.0
        p, line = self.start([mpptest.target("rel_loop.py"), str(seconds)])
        sessdir = os.path.dirname(line.split()[2][len("ipc://"):])
        t0 = time.monotonic()
        os.kill(p.pid, signal.SIGKILL)
        # The target still holds the pipes: their end is its end.
        out, err = p.communicate(timeout=TIMEOUT)
        took = time.monotonic() - t0
        self.assertIn("DONE", out.decode())
        self.assertLess(took, seconds + LINGER_S + 10, err)
        self.assertLessEqual(len(mpprof_lines(err)), 1, err)
        # mpprof's witness removes the session directory mpprof left.
        deadline = time.monotonic() + 5
        while os.path.exists(sessdir) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(os.path.exists(sessdir), sessdir)


class OutputTest(unittest.TestCase):
    """A small tmpfs stands for a full or read-only disk (needs root)."""

    def mount(self, size="512k"):
        d = mpptest.mktemp(self, "mpptest-mnt-")
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size,
                            "tmpfs", d], capture_output=True, text=True)
        if p.returncode != 0:
            self.skipTest("cannot mount a tmpfs: %s" % p.stderr.strip())
        self.addCleanup(subprocess.run, ["umount", "-l", d],
                        capture_output=True)
        return d

    @staticmethod
    def fill(mnt):
        fd = os.open(os.path.join(mnt, "filler"), os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"\0" * 4096) > 0:
                pass
        except OSError:
            pass
        finally:
            os.close(fd)

    def first_profile(self, mnt):
        out = os.path.join(mnt, "out")
        r = mpptest.run([mpptest.target("rel_fork.py")], test=self,
                        outdir=out)
        self.assertEqual(r.returncode, 0, r.describe())
        self.assertEqual(sorted(os.listdir(out)), sorted(OUTPUTS))
        return out, checksums(out)

    def test_full_disk_keeps_the_previous_profile(self):
        mnt = self.mount()
        out, before = self.first_profile(mnt)
        self.fill(mnt)
        r = mpptest.run([mpptest.target("rel_threads.py"), "200"],
                        test=self, outdir=out)
        self.assertEqual(r.returncode, 1, r.describe())
        lines = mpprof_lines(r.stderr)
        self.assertEqual(len(lines), 1, r.describe())
        self.assertIn("No space left on device", lines[0])
        self.assertEqual(checksums(out), before)

    def test_full_disk_and_a_new_directory(self):
        mnt = self.mount()
        self.fill(mnt)
        out = os.path.join(mnt, "new")
        r = mpptest.run([mpptest.target("rel_fork.py")], test=self,
                        outdir=out)
        self.assertEqual(r.returncode, 1, r.describe())
        self.assertEqual(len(mpprof_lines(r.stderr)), 1, r.describe())
        self.assertEqual(os.listdir(mnt), ["filler"])

    def test_read_only_output_keeps_the_previous_profile(self):
        mnt = self.mount()
        out, before = self.first_profile(mnt)
        p = subprocess.run(["mount", "-o", "remount,ro", mnt],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        r = mpptest.run([mpptest.target("rel_fork.py")], test=self,
                        outdir=out)
        self.assertEqual(r.returncode, 2, r.describe())
        lines = mpprof_lines(r.stderr)
        self.assertEqual(len(lines), 1, r.describe())
        self.assertIn("Read-only file system", lines[0])
        self.assertEqual(checksums(out), before)

    def test_report_to_a_full_device(self):
        r = mpptest.run([mpptest.target("rel_fork.py")], test=self)
        with open("/dev/full", "w") as full:
            p = subprocess.run([mpptest.BIN, "report", r.outdir],
                               stdout=full, stderr=subprocess.PIPE,
                               text=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(len(mpprof_lines(p.stderr)), 1, p.stderr)
        self.assertIn("No space left on device", p.stderr)


class FilesTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.run_ = mpptest.run([mpptest.target("rel_fork.py")])
        if cls.run_.returncode != 0:
            raise AssertionError(cls.run_.describe())
        with open(cls.run_.path("session.mpprof"), "rb") as f:
            cls.session = f.read()

    @classmethod
    def tearDownClass(cls):
        cls.run_.cleanup()

    def bad(self, name, data):
        d = mpptest.mktemp(self)
        path = os.path.join(d, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def assert_refused(self, path, word):
        p = mpptest.mpprof(["report", path])
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(p.stdout, "")
        lines = mpptest.stderr_lines(p.stderr)
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertTrue(lines[0].startswith("mpprof: cannot read"), lines)
        self.assertIn(word, lines[0])

    def test_truncated(self):
        s = self.session
        for cut in (len(s) // 2, len(s) - 1, 9, 0):
            self.assert_refused(self.bad("t.mpprof", s[:cut]), "truncated")

    def test_corrupted(self):
        s = self.session
        # The byte after the 8-byte magic and the version is the top-level
        # map; 0xc1 is the one byte msgpack never uses.
        self.assert_refused(self.bad("c.mpprof", s[:9] + b"\xc1" + s[10:]),
                            "corrupt")
        self.assert_refused(self.bad("m.mpprof", b"X" + s[1:]),
                            "not an mpprof file")

    def test_foreign(self):
        self.assert_refused(self.run_.path("profile.prof"),
                            "not an mpprof file")
        self.assert_refused(self.run_.path("callgrind.out"),
                            "not an mpprof file")
        self.assert_refused(self.bad("x.txt", b"hello\n"),
                            "not an mpprof file")
        self.assert_refused(mpptest.mktemp(self), "not an mpprof output")

    def test_any_damaged_byte(self):
        """Damage anywhere: a clean refusal in one line, or (inside a
        string, which no structure check can see) a report; never a
        crash."""
        s = self.session
        d = mpptest.mktemp(self)
        for i, pos in enumerate(range(0, len(s), max(1, len(s) // 150))):
            path = os.path.join(d, "d%d.mpprof" % i)
            with open(path, "wb") as f:
                f.write(s[:pos] + bytes([s[pos] ^ 0xa5]) + s[pos + 1:])
            p = mpptest.mpprof(["report", path])
            self.assertIn(p.returncode, (0, 1),
                          "byte %d: %s" % (pos, p.stderr))
            if p.returncode == 1:
                self.assertEqual(len(mpptest.stderr_lines(p.stderr)), 1,
                                 p.stderr)

    def same_as_plain(self, script, args, cwd, outdir):
        plain = subprocess.run([mpptest.PYTHON, script] + args,
                               capture_output=True, cwd=cwd, timeout=TIMEOUT)
        self.assertEqual(plain.returncode, 0, plain.stderr)
        p = subprocess.run([os.fsencode(mpptest.BIN), b"run", b"-q", b"-o",
                            outdir, b"--python", os.fsencode(mpptest.PYTHON),
                            script] + args,
                           capture_output=True, cwd=cwd, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, plain.stdout)
        self.assertEqual(p.stderr, plain.stderr)
        return p

    def test_very_long_arguments(self):
        d = os.fsencode(mpptest.mktemp(self))
        args = [b"x" * 100000] + [b"%05d" % i for i in range(1000)]
        self.same_as_plain(os.fsencode(mpptest.target("rel_args.py")), args,
                           d, d + b"/out")
        rep = mpptest.report_json(os.fsdecode(d + b"/out"))
        self.assertEqual(len(rep["processes"]), 1)

    def non_utf8_tree(self):
        d = os.fsencode(mpptest.mktemp(self))
        base = d + b"/dir with spaces \xff\xfe"
        os.mkdir(base)
        script = base + b"/rel args \xff.py"
        shutil.copy(os.fsencode(mpptest.target("rel_args.py")), script)
        return base, script

    def test_non_utf8_and_spaces_in_paths(self):
        base, script = self.non_utf8_tree()
        out = base + b"/out dir \xff"
        args = [b"caf\xc3\xa9", b"\xff\xfe not utf-8", b"", b"a b", b"-m"]
        self.same_as_plain(script, args, base, out)
        self.assertEqual(sorted(os.listdir(out)),
                         sorted(os.fsencode(n) for n in OUTPUTS))
        p = subprocess.run([os.fsencode(mpptest.BIN), b"report", out],
                           capture_output=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr)
        stats = mpptest.load_stats(os.fsdecode(out))
        self.assertTrue([k for k in stats.stats if k[2] == "digest"])

    def test_non_utf8_file_name_in_the_profile(self):
        """A code object whose file name is not UTF-8 is recorded under
        os.fsdecode(path), as cProfile records it."""
        base, script = self.non_utf8_tree()
        out = base + b"/out"
        self.same_as_plain(script, [], base, out)
        stats = mpptest.load_stats(os.fsdecode(out))
        keys = [k for k in stats.stats if k[2] == "digest"]
        self.assertEqual([k[0] for k in keys], [os.fsdecode(script)])


if __name__ == "__main__":
    mpptest.main()
