"""The IPython magics (issue 14): `%load_ext mpprof`, `%%mpprof`,
`%mpprof run`.

A real IPython (Debian's, package python3-ipython, in /usr/bin/python3
when the collector is built for its ABI; else that of the Python the
collector is built for) runs non-interactively with only the
build tree's pyshim on PYTHONPATH, as a user's would be, and profiles:
  * a cell that maps a function over N items with a Pool of 2 workers
    (fork, and spawn, whose workers must import the function from the
    cell's file) with the kernel's interpreter: the output directory's
    report --json names that Python's version, has the 3
    processes (and spawn's resource tracker, a helper) and the function counted exactly N times, the cell's own
    output comes through, and the text report shown is report.txt;
  * the binary is found beside the package (MPPROF_BIN unset);
  * a script with arguments through `%mpprof run`, with -o kept;
  * in a real Jupyter kernel (ipykernel, driven by jupyter_client),
    report.html is displayed inline as an iframe whose srcdoc is the
    page, byte for byte, and the cell's output reaches the notebook.
A missing IPython fails, naming scripts/deps.sh --test.
"""

import html
import json
import os
import re
import subprocess
import sys
import textwrap
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpptest  # noqa: E402

N = 37

# The barrier holds each worker until both run: otherwise a spawn worker
# still starting when the map is done is ended by the pool's terminate()
# before its collector starts, and is rightly not in the profile.
CELL = textwrap.dedent("""\
    import multiprocessing as mp

    def work(x):
        return x * x

    def ready(barrier):
        barrier.wait()

    if __name__ == '__main__':
        ctx = mp.get_context('{method}')
        with ctx.Pool(2, ready, (ctx.Barrier(2),)) as pool:
            print('MAGIC_SUM', sum(pool.map(work, range({n}), chunksize=1)))
    """)


def _ipython_python():
    """The interpreter IPython runs in: Debian's /usr/bin/python3 (whose
    IPython is package python3-ipython) when the collector was built for
    its ABI, else the Python the collector was built for."""
    return mpptest.debian_python()


IPYTHON_PYTHON = _ipython_python()
PY_VERSION = subprocess.run(
    [IPYTHON_PYTHON, "-c", "import platform; print(platform.python_version())"],
    capture_output=True, text=True).stdout.strip()


def _env(test, keep_bin=False):
    env = dict(os.environ)
    # The build tree's pyshim, as the README tells users to set it.
    env["PYTHONPATH"] = os.path.join(os.path.dirname(mpptest.BIN), "pyshim")
    env["IPYTHONDIR"] = mpptest.mktemp(test, "mpptest-ipy-")
    if not keep_bin:
        env.pop("MPPROF_BIN", None)
    return env


def _ipython(test, code, keep_bin=False, cwd=None):
    p = subprocess.run(
        [IPYTHON_PYTHON, "-m", "IPython", "--no-banner", "--colors=NoColor",
         "--HistoryManager.enabled=False",
         "--InteractiveShellApp.exec_lines=['%load_ext mpprof']",
         "-c", code],
        capture_output=True, text=True, env=_env(test, keep_bin),
        cwd=cwd or mpptest.mktemp(test), timeout=300)
    return p


def _describe(p):
    return "exit %d\n--- stdout ---\n%s\n--- stderr ---\n%s" % (
        p.returncode, p.stdout[-4000:], p.stderr[-4000:])


class MagicTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        mpptest.check_binary()
        p = subprocess.run([IPYTHON_PYTHON, "-c", "import IPython"],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise AssertionError(
                "IPython is not installed for %s; run `bash scripts/deps.sh "
                "--test` (Debian package python3-ipython)\n%s"
                % (IPYTHON_PYTHON, p.stderr))
        sys.stderr.write("test_magic: IPython runs in %s\n" % IPYTHON_PYTHON)

    def _check_pool_cell(self, method):
        out = os.path.join(mpptest.mktemp(self), "out")
        p = _ipython(self, "%%%%mpprof -o %s\n%s"
                     % (out, CELL.format(method=method, n=N)))
        self.assertEqual(p.returncode, 0, _describe(p))
        # The cell's own output, relayed from the run.
        self.assertIn("MAGIC_SUM %d" % sum(x * x for x in range(N)),
                      p.stdout, _describe(p))
        # A terminal IPython shows the text report: report.txt itself.
        with open(os.path.join(out, "report.txt")) as f:
            self.assertIn(f.read(), p.stdout)
        self.assertIn("profile written to %s" % out, p.stdout)
        rep = mpptest.report_json(out)
        # The run used the kernel's interpreter, not python3 from PATH.
        self.assertEqual(rep["python"], PY_VERSION)
        # Spawn also starts multiprocessing's resource tracker, a helper.
        procs = [q for q in rep["processes"] if q["role"] != "helper"]
        if method == "fork":
            self.assertEqual(len(rep["processes"]), 3, rep["processes"])
        self.assertEqual(len(procs), 3, rep["processes"])
        self.assertEqual(sum(1 for q in procs if q["role"] == "worker"), 2,
                         procs)
        self.assertEqual(mpptest.json_ncalls(rep, "cell.py", "work"), N,
                         [f for f in rep["functions"] if f["name"] == "work"])
        return p

    def test_cell_fork_pool(self):
        self._check_pool_cell("fork")

    def test_cell_spawn_pool(self):
        # Spawn workers import the cell's functions from its file.
        self._check_pool_cell("spawn")

    def test_line_magic_run_script(self):
        tmp = mpptest.mktemp(self)
        script = os.path.join(tmp, "script.py")
        with open(script, "w") as f:
            f.write(textwrap.dedent("""\
                import sys
                def twice(x):
                    return 2 * x
                print('ARGS', sys.argv[1:], sum(twice(i) for i in range(5)))
                sys.exit(3)
                """))
        out = os.path.join(tmp, "kept")
        p = _ipython(self, "%%mpprof run -o %s script.py 'a b' -q c" % out,
                     keep_bin=True, cwd=tmp)
        self.assertEqual(p.returncode, 0, _describe(p))
        self.assertIn("ARGS ['a b', '-q', 'c'] 20", p.stdout, _describe(p))
        self.assertIn("the run exited with status 3", p.stderr, _describe(p))
        rep = mpptest.report_json(out)
        self.assertEqual(len(rep["processes"]), 1)
        self.assertEqual(mpptest.json_ncalls(rep, "script.py", "twice"), 5)

    def test_notebook_shows_html_inline(self):
        # A real Jupyter kernel (ipykernel) of the same interpreter, driven
        # through jupyter_client as a notebook would drive it.
        if not mpptest.is_debian_default(IPYTHON_PYTHON):
            # Debian's kernel spec ("python3") starts /usr/bin/python3,
            # and Debian builds pyzmq, which the kernel needs, for that
            # Python only: a build for another one (the interpreter
            # matrix's 3.13 or 3.15 in sid) cannot run a kernel of its
            # own Python from packages.
            self.skipTest("Debian's Jupyter kernel runs /usr/bin/python3, "
                          "not %s" % IPYTHON_PYTHON)
        out = os.path.join(mpptest.mktemp(self), "out")
        cell = "%%%%mpprof -o %s\n%s" % (out, CELL.format(method="fork", n=N))
        p = subprocess.run([IPYTHON_PYTHON, "-c", KERNEL_DRIVER, cell],
                           capture_output=True, text=True,
                           env=_env(self), timeout=300)
        if "NO_JUPYTER" in p.stdout:
            raise AssertionError(
                "ipykernel or jupyter_client is not installed for %s; run "
                "`bash scripts/deps.sh --test` (python3-ipykernel, "
                "python3-jupyter-client)\n%s" % (IPYTHON_PYTHON, p.stdout))
        self.assertEqual(p.returncode, 0, _describe(p))
        msgs = json.loads(p.stdout.splitlines()[-1])
        self.assertEqual(msgs["load"], "ok", msgs)
        self.assertEqual(msgs["status"], "ok", msgs)
        stdout = "".join(c["text"] for t, c in msgs["iopub"]
                         if t == "stream" and c["name"] == "stdout")
        stderr = "".join(c["text"] for t, c in msgs["iopub"]
                         if t == "stream" and c["name"] == "stderr")
        self.assertIn("MAGIC_SUM %d" % sum(x * x for x in range(N)), stdout)
        self.assertEqual(stderr, "", msgs)
        shown = [c["data"] for t, c in msgs["iopub"] if t == "display_data"]
        self.assertEqual(len(shown), 1, msgs)
        m = re.match(r'<iframe srcdoc="([^"]*)"', shown[0]["text/html"])
        self.assertIsNotNone(m, shown[0]["text/html"][:300])
        with open(os.path.join(out, "report.html")) as f:
            self.assertEqual(html.unescape(m.group(1)), f.read())
        # The text report is not printed as well.
        with open(os.path.join(out, "report.txt")) as f:
            self.assertNotIn(f.read(), stdout)
        rep = mpptest.report_json(out)
        self.assertEqual(mpptest.json_ncalls(rep, "cell.py", "work"), N)


# Runs in the kernel's interpreter: starts a kernel, loads the extension,
# runs the cell in argv[1], prints every iopub message of it as JSON.
KERNEL_DRIVER = textwrap.dedent("""\
    import json, sys
    try:
        from jupyter_client.manager import start_new_kernel
        import ipykernel  # noqa: F401
    except ImportError as e:
        print("NO_JUPYTER", e)
        sys.exit(1)
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        res = {"iopub": []}
        kc.execute("%load_ext mpprof")
        res["load"] = kc.get_shell_msg(timeout=120)["content"]["status"]
        mid = kc.execute(sys.argv[1])
        while True:
            m = kc.get_iopub_msg(timeout=240)
            if m["parent_header"].get("msg_id") != mid:
                continue
            t = m["msg_type"]
            if t == "status":
                if m["content"]["execution_state"] == "idle":
                    break
                continue
            res["iopub"].append((t, m["content"]))
        res["status"] = kc.get_shell_msg(timeout=120)["content"]["status"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    print(json.dumps(res))
    """)

if __name__ == "__main__":
    mpptest.main()
