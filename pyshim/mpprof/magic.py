"""IPython/Jupyter magics: `%mpprof run script.py [args]` and `%%mpprof`.

`%load_ext mpprof` registers them.  Both profile through the real
`mpprof run` binary, so every child process is seen exactly as on the
command line, with the kernel's own interpreter (sys.executable), so the
user's environment is kept.  The report is shown as text in a terminal
IPython and as the self-contained report.html inline in Jupyter.

The cell magic writes the cell to a real file and runs it as a script:
multiprocessing's spawn and forkserver children import the main module
from its file, so functions defined in the cell must live in one (code
passed with -c cannot be imported), and the cell runs under
`if __name__ == '__main__'` exactly as a script would.  The cell runs in
a new process: it does not see the notebook's variables.
"""

import html
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

USAGE = """\
%mpprof run [-o DIR] [--interval MS] [--text] (SCRIPT | -m MODULE) [ARGS...]
%%mpprof [-o DIR] [--interval MS] [--text] [ARGS...]   (cell magic)

Profiles the script (or the cell) and all its child processes with
`mpprof run`, and shows the report.  -o DIR keeps the output directory
(profile.prof, callgrind.out, trace.json, report.html, ...); without it
the output goes to a temporary directory that is removed afterwards.
--text shows the text report even in Jupyter."""


def find_launcher():
    """The path of the `mpprof` binary.

    In this order: $MPPROF_BIN; beside this package as the build tree
    lays it out (<build>/pyshim/mpprof -> <build>/mpprof); as
    `cmake --install` lays it out (<prefix>/lib/mpprof/pyshim/mpprof ->
    <prefix>/bin/mpprof); a `build` directory of the source tree when
    PYTHONPATH points at <repo>/pyshim; then `mpprof` on PATH.  The first
    that is an executable file wins, so a binary built with this very
    package is preferred to an unrelated one on PATH.
    """
    env = os.environ.get("MPPROF_BIN")
    if env:
        if os.path.isfile(env) and os.access(env, os.X_OK):
            return os.path.abspath(env)
        raise UsageError("MPPROF_BIN=%s is not an executable file" % env)
    pkg = os.path.dirname(os.path.realpath(__file__))
    for rel in (("..", "..", "mpprof"),
                ("..", "..", "..", "..", "bin", "mpprof"),
                ("..", "..", "build", "mpprof")):
        cand = os.path.normpath(os.path.join(pkg, *rel))
        if os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    found = shutil.which("mpprof")
    if found:
        return found
    raise UsageError(
        "cannot find the mpprof binary: set MPPROF_BIN to it, put it on "
        "PATH, or use the pyshim directory of a build or an install "
        "(PYTHONPATH=<build>/pyshim)")


def _split_options(tokens):
    """Takes the magic's own options off the front of `tokens`.

    Returns (outdir, interval, text, rest); `rest` is passed to
    `mpprof run` after the options, untouched.
    """
    outdir = interval = None
    text = False
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t in ("-o", "--interval"):
            if i + 1 >= len(tokens):
                raise UsageError("%s needs a value\n\n%s" % (t, USAGE))
            if t == "-o":
                outdir = tokens[i + 1]
            else:
                interval = tokens[i + 1]
            i += 2
        elif t == "--text":
            text = True
            i += 1
        elif t == "--":
            i += 1
            break
        else:
            break
    return outdir, interval, text, tokens[i:]


def _pump(src, dst):
    # Copies what the run writes to the notebook's (or terminal's)
    # streams as it comes: in Jupyter the kernel's real descriptors are
    # not the cell's output, so the run's own must be relayed.
    while True:
        chunk = os.read(src.fileno(), 65536)
        if not chunk:
            break
        dst.write(chunk.decode("utf-8", "replace"))
        dst.flush()
    src.close()


def _in_notebook(shell):
    # A Jupyter kernel's shell has a kernel; a terminal IPython has none.
    return getattr(shell, "kernel", None) is not None


@magics_class
class MpprofMagics(Magics):
    @line_cell_magic
    def mpprof(self, line, cell=None):
        try:
            tokens = shlex.split(line)
        except ValueError as e:
            raise UsageError("%s\n\n%s" % (e, USAGE))
        if cell is None:
            if tokens[:1] == ["run"]:
                tokens = tokens[1:]
            outdir, interval, text, rest = _split_options(tokens)
            if not rest:
                raise UsageError(USAGE)
            return self._profile(rest, outdir, interval, text, None)
        outdir, interval, text, rest = _split_options(tokens)
        return self._profile(rest, outdir, interval, text, cell)

    def _profile(self, command, outdir, interval, text, cell):
        launcher = find_launcher()
        tmp = tempfile.mkdtemp(prefix="mpprof-magic-")
        try:
            if cell is not None:
                script = os.path.join(tmp, "cell.py")
                with open(script, "w", encoding="utf-8") as f:
                    f.write(cell)
                command = [script] + list(command)
            out = os.path.abspath(outdir) if outdir else \
                os.path.join(tmp, "out")
            argv = [launcher, "run", "-q", "-o", out,
                    "--python", sys.executable]
            if interval is not None:
                argv += ["--interval", interval]
            status = self._run(argv + list(command), cell is not None)
            self._show(out, status, text or not _in_notebook(self.shell),
                       outdir is not None)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _run(self, argv, is_cell):
        notebook = _in_notebook(self.shell)
        env = dict(os.environ)
        if is_cell:
            # The script's directory (the temporary one) becomes
            # sys.path[0]; the cell should import what the notebook's
            # directory holds, as code typed in the notebook does.
            cwd = os.getcwd()
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (env.get("PYTHONPATH"), cwd) if p)
        # -q keeps the launcher's report off stderr: the magic shows the
        # report itself (text or HTML); what the target writes and real
        # problems still come through.
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env)
        pumps = [threading.Thread(target=_pump, args=(proc.stdout, sys.stdout)),
                 threading.Thread(target=_pump, args=(proc.stderr, sys.stderr))]
        for t in pumps:
            t.daemon = True
            t.start()
        while True:
            try:
                status = proc.wait()
                break
            except KeyboardInterrupt:
                # A terminal's Ctrl-C already went to the whole foreground
                # group, the run included; a notebook's interrupt only
                # reaches the kernel, which passes it on.  Either way the
                # run ends as on the command line and what ran is shown.
                if notebook:
                    proc.send_signal(signal.SIGINT)
        for t in pumps:
            t.join()
        return status

    def _show(self, out, status, text, keep):
        report_txt = os.path.join(out, "report.txt")
        report_html = os.path.join(out, "report.html")
        if status != 0:
            print("mpprof: the run exited with status %d" % status,
                  file=sys.stderr)
        if not os.path.exists(report_txt):
            print("mpprof: no profile was written", file=sys.stderr)
            return
        if text or not os.path.exists(report_html):
            with open(report_txt, encoding="utf-8") as f:
                sys.stdout.write(f.read())
        else:
            from IPython.display import display

            with open(report_html, encoding="utf-8") as f:
                page = f.read()
            # srcdoc keeps the page's scripts and styles apart from the
            # notebook's, and needs nothing but the page itself: it works
            # offline, and without the output directory being served.  A
            # raw bundle, since IPython's HTML() warns about any iframe.
            frame = ('<iframe srcdoc="%s" style="width:100%%;height:800px;'
                     'border:0"></iframe>' % html.escape(page, quote=True))
            display({"text/html": frame,
                     "text/plain": "mpprof report (report.html)"}, raw=True)
        if keep:
            print("mpprof: profile written to %s" % out)


def load_ipython_extension(ip):
    ip.register_magics(MpprofMagics)
