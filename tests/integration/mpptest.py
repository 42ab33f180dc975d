"""Shared helpers for mpprof's integration tests (standard library only).

Environment (set by ctest, see CMakeLists.txt):
  MPPROF_BIN     the built mpprof binary (default: $MPPROF_SRC/build/mpprof)
  MPPROF_PYTHON  the Python the collector was built for; targets run under it
                 and it is passed to `mpprof run --python` (default: python3
                 from PATH, resolved to its real executable)
  MPPROF_SRC     the repository root (default: two levels above this file)

Nothing here fakes mpprof: when the binary is missing or broken, the tests
fail.  Ground truth always comes from the program itself (cProfile on the
same script, counters the target prints, pids the processes record).
"""

import json
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = os.path.join(HERE, "targets")
SRC = os.path.abspath(os.environ.get("MPPROF_SRC")
                      or os.path.join(HERE, os.pardir, os.pardir))
BIN = os.path.abspath(os.environ.get("MPPROF_BIN")
                      or os.path.join(SRC, "build", "mpprof"))

TRUTH_PREFIX = "MPPTEST_TRUTH "


def _resolve_python():
    py = os.environ.get("MPPROF_PYTHON") or shutil.which("python3") or sys.executable
    # pyenv-style shims are shell scripts: resolve to the real interpreter so
    # timings and ABI checks see the real thing.
    try:
        out = subprocess.run([py, "-c", "import sys; print(sys.executable)"],
                             capture_output=True, text=True, timeout=60)
        real = out.stdout.strip()
        if out.returncode == 0 and real and os.path.exists(real):
            return real
    except (OSError, subprocess.SubprocessError):
        pass
    return py


PYTHON = _resolve_python()
DEFAULT_TIMEOUT = 120


def collector_fits(python):
    """Whether the collector of this build serves `python`: a file for its
    ABI (EXT_SUFFIX) sits in the build's pyshim."""
    pyshim = os.path.join(os.path.dirname(BIN), "pyshim", "mpprof")
    try:
        p = subprocess.run(
            [python, "-c", "import sysconfig; "
             "print(sysconfig.get_config_var('EXT_SUFFIX'))"],
            capture_output=True, text=True)
    except OSError:
        return False
    ext = p.stdout.strip()
    return p.returncode == 0 and bool(ext) and os.path.exists(
        os.path.join(pyshim, "_collector" + ext))


def debian_python():
    """The interpreter for tests of Debian's own Python packages (joblib,
    IPython): /usr/bin/python3 when this build has a collector for it,
    else the Python the build is for.  Pure-Python packages in
    /usr/lib/python3/dist-packages import in every Debian python3.X, so a
    build for a Python that is not the release's default (3.14 and 3.15
    in sid today) still tests them."""
    debian = "/usr/bin/python3"
    if os.access(debian, os.X_OK) and collector_fits(debian):
        return debian
    return PYTHON


def no_collector_for(python):
    """Why this build cannot profile `python` (None when it can): tests of
    Debian's compiled packages (mpi4py, distributed's dependencies) need
    the release's python3, and a build for another Python (3.15 in a sid
    root whose python3 is 3.14) has no collector for it."""
    if not os.access(python, os.X_OK):
        return "%s does not exist" % python
    if not collector_fits(python):
        return ("this build has no collector for %s (it is for %s)"
                % (python, PYTHON))
    return None


def is_debian_default(python):
    """Whether `python` is the release's default python3, the one Debian
    builds its compiled extension packages (pyzmq, under Jupyter) for."""
    try:
        return os.path.samefile(python, "/usr/bin/python3")
    except OSError:
        return False


def target(name):
    """Absolute path of a target script in tests/integration/targets/."""
    return os.path.join(TARGETS, name)


def check_binary():
    """Fail (not skip) with a clear message when the binary is unusable."""
    if not os.path.isfile(BIN) or not os.access(BIN, os.X_OK):
        raise AssertionError("MPPROF_BIN %r is not an executable file" % BIN)


class Run:
    """The result of one `mpprof run`: the completed process, the output
    directory, and the temporary directory holding it (removed by cleanup)."""

    def __init__(self, proc, outdir, tmpdir, argv):
        self.proc = proc
        self.outdir = outdir
        self.tmpdir = tmpdir
        self.argv = argv

    @property
    def returncode(self):
        return self.proc.returncode

    @property
    def stdout(self):
        return self.proc.stdout

    @property
    def stderr(self):
        return self.proc.stderr

    def path(self, name):
        return os.path.join(self.outdir, name)

    def describe(self):
        return ("command: %s\nexit: %s\n--- stdout (tail) ---\n%s\n"
                "--- stderr (tail) ---\n%s" % (
                    " ".join(repr(a) for a in self.argv), self.proc.returncode,
                    _tail(self.proc.stdout), _tail(self.proc.stderr)))

    def truth(self):
        return parse_truth(self.proc.stdout)

    def cleanup(self):
        shutil.rmtree(self.tmpdir, ignore_errors=True)


def _tail(text, n=3000):
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return text if len(text) <= n else "..." + text[-n:]


def mktemp(test=None, prefix="mpptest-"):
    """A fresh temporary directory, removed at the test's cleanup."""
    d = tempfile.mkdtemp(prefix=prefix)
    if test is not None:
        test.addCleanup(shutil.rmtree, d, True)
    return d


def run(args, *, test=None, outdir=None, quiet=True, python=True, env=None,
        extra_env=None, cwd=None, timeout=DEFAULT_TIMEOUT, input=None,
        run_opts=(), text=True):
    """Runs `mpprof run [-q] [-o OUTDIR] [--python PY] RUN_OPTS... ARGS...`.

    OUTDIR defaults to <fresh tempdir>/out (not created beforehand).  When
    `outdir` is False, no -o is passed.  Returns a Run; when `test` is given,
    the temporary directory is removed at its cleanup."""
    check_binary()
    tmpdir = tempfile.mkdtemp(prefix="mpptest-")
    if outdir is None:
        outdir = os.path.join(tmpdir, "out")
    argv = [BIN, "run"]
    if quiet:
        argv.append("-q")
    if outdir is not False:
        argv += ["-o", outdir]
    if python is True:
        argv += ["--python", PYTHON]
    elif python:
        argv += ["--python", python]
    argv += list(run_opts)
    argv += list(args)
    e = dict(os.environ if env is None else env)
    if extra_env:
        e.update(extra_env)
    proc = subprocess.run(argv, capture_output=True, text=text, env=e,
                          cwd=cwd or tmpdir, timeout=timeout, input=input)
    r = Run(proc, outdir if outdir is not False else None, tmpdir, argv)
    if test is not None:
        test.addCleanup(r.cleanup)
    return r


def mpprof(args, *, timeout=DEFAULT_TIMEOUT, cwd=None, env=None, input=None,
           text=True):
    """Runs the binary with ARGS (no implicit `run`)."""
    check_binary()
    return subprocess.run([BIN] + list(args), capture_output=True, text=text,
                          timeout=timeout, cwd=cwd, env=env, input=input)


def run_python(args, *, cwd=None, env=None, timeout=DEFAULT_TIMEOUT):
    """Runs the target python without any profiler."""
    return subprocess.run([PYTHON] + list(args), capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=timeout)


def cprofile(args, *, test=None, cwd=None, env=None, timeout=DEFAULT_TIMEOUT):
    """Runs `PYTHON -m cProfile -o TMP ARGS...` and returns
    (completed process, pstats.Stats)."""
    tmpdir = mktemp(test, "mpptest-cprof-")
    out = os.path.join(tmpdir, "cprofile.prof")
    proc = subprocess.run([PYTHON, "-m", "cProfile", "-o", out] + list(args),
                          capture_output=True, text=True, cwd=cwd or tmpdir,
                          env=env, timeout=timeout)
    if proc.returncode != 0 or not os.path.exists(out):
        raise AssertionError("cProfile run failed (%s):\n%s" % (
            proc.returncode, _tail(proc.stderr)))
    return proc, pstats.Stats(out)


def parse_truth(stdout):
    """Merges every `MPPTEST_TRUTH {json}` line a target printed."""
    truth = {}
    for line in (stdout or "").splitlines():
        if line.startswith(TRUTH_PREFIX):
            truth.update(json.loads(line[len(TRUTH_PREFIX):]))
    return truth


# --- pstats ---------------------------------------------------------------

def load_stats(run_or_dir):
    d = run_or_dir.outdir if isinstance(run_or_dir, Run) else run_or_dir
    return pstats.Stats(os.path.join(d, "profile.prof"))


def same_file(path, suffix):
    """True when PATH names SUFFIX: equal, or ends with /SUFFIX."""
    if suffix is None:
        return True
    path = path.replace(os.sep, "/")
    suffix = suffix.replace(os.sep, "/")
    return path == suffix or path.endswith("/" + suffix)


def find_keys(stats, file_suffix, name, line=None):
    """All pstats keys (file, line, name) matching; file matched by suffix."""
    return sorted(k for k in stats.stats
                  if k[2] == name and same_file(k[0], file_suffix)
                  and (line is None or k[1] == line))


def find(stats, file_suffix, name, line=None):
    """The single (key, (cc, nc, tt, ct, callers)) for a function, or
    (None, None) when absent; AssertionError when ambiguous."""
    keys = find_keys(stats, file_suffix, name, line)
    if not keys:
        return None, None
    if len(keys) > 1:
        raise AssertionError("ambiguous function %s:%s: %r" % (
            file_suffix, name, keys))
    return keys[0], stats.stats[keys[0]]


def ncalls(stats, file_suffix, name, line=None):
    """Total calls of every entry matching (file suffix, name[, line]),
    summed (0 when absent): the count a user sees for that function."""
    return sum(stats.stats[k][1] for k in find_keys(stats, file_suffix, name, line))


def pcalls(stats, file_suffix, name, line=None):
    return sum(stats.stats[k][0] for k in find_keys(stats, file_suffix, name, line))


def file_functions(stats, file_suffix):
    """{(basename-relative) (line, name): key} for functions in FILE."""
    out = {}
    for k in stats.stats:
        if same_file(k[0], file_suffix):
            ident = (k[1], k[2])
            if ident in out:
                raise AssertionError("function %r appears under two files: "
                                     "%r and %r" % (ident, out[ident], k))
            out[ident] = k
    return out


def norm_key(key, file_suffix):
    """Replaces a path ending in FILE_SUFFIX by FILE_SUFFIX, so keys from two
    profiles of the same script compare equal."""
    f, line, name = key
    if same_file(f, file_suffix):
        f = file_suffix
    return (f, line, name)


def total_tt(stats):
    return stats.total_tt


# --- report --json ----------------------------------------------------------

def profile_note(outdir):
    """What the session says of its own completeness, for the message of
    a count that came out wrong: integrity counters and every process's
    exit and calls."""
    try:
        rep = report_json(outdir)
    except AssertionError as e:
        return "(no report: %s)" % e
    procs = ["%s %s %s calls=%s" % (p.get("pid"), p.get("name"), p.get("exit"),
                                   p.get("calls"))
             for p in rep.get("processes", [])]
    return "integrity %r; processes:\n  %s" % (rep.get("integrity"),
                                               "\n  ".join(procs))


def report_json(outdir, extra=()):
    """`mpprof report OUTDIR --json` parsed; AssertionError on failure."""
    p = mpprof(["report", outdir, "--json"] + list(extra))
    if p.returncode != 0:
        raise AssertionError("mpprof report --json failed (%d): %s" % (
            p.returncode, _tail(p.stderr)))
    try:
        return json.loads(p.stdout)
    except ValueError as e:
        raise AssertionError("report --json is not JSON (%s): %s" % (
            e, _tail(p.stdout, 500)))


def json_functions(rep, file_suffix, name, line=None):
    return [f for f in rep.get("functions", [])
            if f.get("name") == name and same_file(f.get("file", ""), file_suffix)
            and (line is None or f.get("line") == line)]


def json_ncalls(rep, file_suffix, name, line=None):
    return sum(f["ncalls"] for f in json_functions(rep, file_suffix, name, line))


# --- callgrind --------------------------------------------------------------

_CG_LINE = re.compile(r"^\s*([0-9][0-9,]*)\s+(?:\([^)]*\)\s+)?(\S.*?)\s*$")


def callgrind_annotate(path, inclusive=True):
    """Runs callgrind_annotate on PATH and returns (totals, {fn: cost}) for
    the first event, fn being callgrind_annotate's "file:function" label."""
    exe = shutil.which("callgrind_annotate")
    if exe is None:
        raise unittest.SkipTest("callgrind_annotate is not installed")
    # callgrind_annotate also lists a cwd-relative duplicate of every
    # function whose file it finds under the cwd: run it in an empty dir.
    with tempfile.TemporaryDirectory(prefix="mpptest-cga-") as cwd:
        # Only the first event: with several (time and the categories,
        # issue 14) each line would carry one column per event.
        first = (callgrind_events(path) or ["ns"])[0]
        p = subprocess.run([exe, "--inclusive=%s" % ("yes" if inclusive else "no"),
                            "--threshold=100", "--auto=no", "--show=" + first,
                            os.path.abspath(path)],
                           capture_output=True, text=True, timeout=120, cwd=cwd)
    if p.returncode != 0:
        raise AssertionError("callgrind_annotate failed (%d): %s" % (
            p.returncode, _tail(p.stderr)))
    totals = None
    funcs = {}
    section = None
    for line in p.stdout.splitlines():
        if "file:function" in line:
            section = "functions"
            continue
        m = _CG_LINE.match(line)
        if not m:
            continue
        cost = int(m.group(1).replace(",", ""))
        label = m.group(2)
        if label == "PROGRAM TOTALS":
            totals = cost
        elif section == "functions":
            funcs[label] = funcs.get(label, 0) + cost
    if totals is None:
        raise AssertionError("callgrind_annotate printed no PROGRAM TOTALS:\n"
                             + _tail(p.stdout))
    return totals, funcs


def callgrind_events(path):
    """The `events:` line of a callgrind file, as a list of names."""
    with open(path, "r", errors="replace") as f:
        for line in f:
            if line.startswith("events:"):
                return line.split(":", 1)[1].split()
    return []


def callgrind_match(funcs, file_suffix, name, line=None):
    """Labels of callgrind_annotate functions for NAME in FILE_SUFFIX.

    A label is "FILE:FN" where FN is whatever the writer put after fn= (the
    bare name, "name:line", "name (file:line)", ...).  FN must contain NAME
    as a whole token; when it carries a number and LINE is given, the number
    must be LINE."""
    base = os.path.basename(file_suffix)
    out = []
    tok = re.compile(r"(?:^|[^\w<>])" + re.escape(name) + r"(?:$|[^\w<>])")
    for label in funcs:
        idx = label.find(base + ":")
        if idx < 0:
            continue
        fpart = label[:idx + len(base)]
        if not same_file(fpart, file_suffix) and not fpart.endswith(base):
            continue
        fn = label[idx + len(base) + 1:]
        if not tok.search(fn):
            continue
        if line is not None:
            nums = re.findall(r"(?<![\w.])(\d+)(?![\w.])", fn.replace(name, " "))
            if nums and str(line) not in nums:
                continue
        out.append(label)
    return out


# --- misc -------------------------------------------------------------------

def stderr_lines(text):
    return [l for l in (text or "").splitlines() if l.strip()]


def print_stats_text(stats, n=30):
    import io
    buf = io.StringIO()
    stats.stream = buf
    stats.sort_stats("cumulative").print_stats(n)
    return buf.getvalue()


def main():
    """unittest.main with a banner naming the binary under test."""
    sys.stderr.write("mpptest: MPPROF_BIN=%s\nmpptest: PYTHON=%s\n" % (BIN, PYTHON))
    unittest.main(verbosity=2)
