"""The live status line of `mpprof run` (issue 14).

mpprof runs a Pool of 2 workers (fork) that sleep long enough for the
line to be drawn a few times, with stderr on a pseudo-terminal (output
post-processing off, so the bytes are exactly what mpprof wrote) and
stdout on a pipe.  Checked:
  * the line appears, redrawn in place ("\\r" ... "\\r"), with the number
    of processes (alive + finished) reaching that of report --json, and
    calls that never go down and never exceed the report's total;
  * it is cleared before the report: once the status segments are taken
    out, stderr is byte for byte the target's own line, report.txt and
    the "profile written" line, and the last segment is blanks only;
  * with -q on the terminal, in the background of the terminal (a job of
    a job-control shell), or with stderr on a pipe (with and without
    -q), nothing of it appears: stderr is byte for byte what it is
    without a terminal.
"""

import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import fcntl
import textwrap
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpptest  # noqa: E402

TARGET = textwrap.dedent("""\
    import multiprocessing as mp
    import sys
    import time

    def work(x):
        time.sleep(1.5)
        return x

    if __name__ == '__main__':
        sys.stderr.write('TARGET_ERR line\\n')
        sys.stderr.flush()
        with mp.get_context('fork').Pool(2) as pool:
            print(pool.map(work, range(2), chunksize=1))
    """)

SEGMENT = re.compile(rb"\r([^\r\n]*)\r")
LINE = re.compile(rb"^mpprof: (\d+\.\d) s  processes: (\d+) alive, (\d+) "
                  rb"finished  calls: ([\d,]+) *$")


def _run(test, quiet, tty, ctty=True, background=False):
    """Runs the target; returns (stderr bytes, stdout bytes, outdir)."""
    tmp = mpptest.mktemp(test)
    script = os.path.join(tmp, "pool.py")
    with open(script, "w") as f:
        f.write(TARGET)
    out = os.path.join(tmp, "out")
    argv = [mpptest.BIN, "run"] + (["-q"] if quiet else []) + \
        ["-o", out, "--python", mpptest.PYTHON, script]
    if background:
        # A job-control shell owns the terminal and runs mpprof as a
        # background job (a process group of its own, not the
        # foreground one), as `mpprof run x.py &` in a terminal does.
        argv = ["sh", "-c", 'set -m; "$@" & wait $!', "sh"] + argv
    if not tty:
        p = subprocess.run(argv, capture_output=True, cwd=tmp, timeout=120)
        test.assertEqual(p.returncode, 0, p.stderr)
        return p.stderr, p.stdout, out
    master, slave = pty.openpty()
    # Exact bytes (no "\n" -> "\r\n") and a known width.
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.OPOST
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
    def controlling():
        # The terminal is mpprof's controlling one, and mpprof is its
        # foreground, as in a shell: the line is drawn only then.
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=slave,
                         stdin=subprocess.DEVNULL, cwd=tmp,
                         preexec_fn=controlling if ctty else None)
    os.close(slave)
    err = b""
    while True:
        r, _, _ = select.select([master], [], [], 120)
        test.assertTrue(r, "mpprof did not finish in 120 s")
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every writer of the terminal is gone
            break
        if not chunk:
            break
        err += chunk
    os.close(master)
    stdout = p.stdout.read()
    p.stdout.close()
    test.assertEqual(p.wait(timeout=60), 0, err)
    return err, stdout, out


def _quiet_tail(out):
    with open(os.path.join(out, "report.txt"), "rb") as f:
        report = f.read()
    return report + ("mpprof: profile written to %s/ (profile.prof, "
                     "callgrind.out, session.mpprof, report.txt, "
                     "report.html, trace.json)\n" % out).encode()


class StatusLineTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        mpptest.check_binary()

    def test_line_on_terminal(self):
        err, stdout, out = _run(self, quiet=False, tty=True)
        self.assertEqual(stdout, b"[0, 1]\n")
        segs = list(SEGMENT.finditer(err))
        self.assertGreaterEqual(len(segs), 2, err)
        # Every segment but the last is a status line; the last clears it.
        lines = [m.group(1) for m in segs[:-1]]
        parsed = [LINE.match(x) for x in lines]
        self.assertTrue(all(parsed), lines)
        self.assertEqual(segs[-1].group(1).strip(b" "), b"", segs[-1])
        self.assertGreaterEqual(len(segs[-1].group(1)),
                                max(len(x) for x in lines))
        rep = mpptest.report_json(out)
        nprocs = len(rep["processes"])
        self.assertEqual(nprocs, 3, rep["processes"])
        seen = [int(m.group(2)) + int(m.group(3)) for m in parsed]
        self.assertEqual(max(seen), nprocs, lines)
        calls = [int(m.group(4).replace(b",", b"")) for m in parsed]
        self.assertEqual(calls, sorted(calls), lines)
        self.assertGreater(calls[-1], 0, lines)
        total = sum(q["calls"] for q in rep["processes"])
        self.assertLessEqual(calls[-1], total)
        secs = [float(m.group(1)) for m in parsed]
        self.assertEqual(secs, sorted(secs), lines)
        # Everything after the clearing segment is the report; without
        # the segments, stderr is the target's line and the report.
        self.assertEqual(err[segs[-1].end():], _quiet_tail(out))
        self.assertEqual(SEGMENT.sub(b"", err),
                         b"TARGET_ERR line\n" + _quiet_tail(out))

    def test_line_on_other_terminal(self):
        # A terminal that is not the controlling one (2>/dev/pts/N) has
        # no foreground process group: the line is drawn there too.
        err, _, out = _run(self, quiet=False, tty=True, ctty=False)
        self.assertRegex(err, rb"\rmpprof: \d+\.\d s  processes: ")
        self.assertEqual(SEGMENT.sub(b"", err),
                         b"TARGET_ERR line\n" + _quiet_tail(out))

    def test_nothing_in_background(self):
        err, _, out = _run(self, quiet=False, tty=True, background=True)
        self.assertEqual(err, b"TARGET_ERR line\n" + _quiet_tail(out))

    def test_nothing_with_q_or_without_terminal(self):
        err_tty_q, _, _ = _run(self, quiet=True, tty=True)
        err_pipe_q, _, _ = _run(self, quiet=True, tty=False)
        self.assertEqual(err_tty_q, b"TARGET_ERR line\n")
        self.assertEqual(err_tty_q, err_pipe_q)
        err_pipe, _, out = _run(self, quiet=False, tty=False)
        self.assertEqual(err_pipe, b"TARGET_ERR line\n" + _quiet_tail(out))


if __name__ == "__main__":
    mpptest.main()
