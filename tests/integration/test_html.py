"""report.html in a real browser (issue 14, acceptance item 1): headless
Chromium (Debian's `chromium`, installed by scripts/deps.sh --test) opens
the page of real multiprocessing runs, and the checks read what the page
wrote into its DOM (--dump-dom after a virtual time budget) and what it
drew (--screenshot).

  TestPage      t_mp.py pool fork: report.html is in the output directory
                and named in the run's closing line; in Chromium it renders
                with no script error ("Uncaught" in the browser's log, or
                window.onerror counted by the page) and no request (the
                page's Content-Security-Policy blocks every request and the
                page counts the attempts); every process of the run (the
                program's own record of its pids) is a lane of the timeline;
                the hottest function (most own time in report --json) and
                work() are frames of the flame graph; choosing a worker in
                the process filter (#process=PID sends the filter the same
                change event as a click) redraws the graph with that
                worker's, smaller, total; the verdict of a Pool moving
                megabytes per task names moving data and the parts of it
                report --json gives; the screenshot is not blank (the
                PNG, decoded here with zlib, has many colours, among them
                the compute colour of the time bars).  The file size and
                the time to first render are printed.
  TestInteraction  zoom, pan, hover, click, search and sort sent as DOM
                events (a script appended to a copy of the page): each
                changes what the page drew as a person would expect, with
                no script error.
  TestHostile   a Pool whose function is named
                "</script><script>alert(1)</script>": the page renders, has
                exactly its own two script elements, and shows the name as
                text in the function table.
  TestCommand   `mpprof report DIR --html [-o FILE]` writes the same page
                as the run did, to a file or standard output; --html with
                --json is a usage error; `mpprof compare A B --html -o
                FILE` renders in Chromium with compare --json's speedup
                and every process of the parallel run in the timeline.

If Chromium is not installed the tests fail (they do not skip): the
acceptance needs the browser.
"""

import html.parser
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpptest  # noqa: E402

CHROMIUM_FLAGS = ["--headless", "--no-sandbox",
                  "--disable-background-networking", "--disable-gpu",
                  "--enable-logging=stderr", "--v=0", "--hide-scrollbars",
                  "--window-size=1400,2400", "--virtual-time-budget=10000"]
COMPUTE_RGB = (0x4e, 0x79, 0xa7)  # report.js CAT_COLOURS.compute


def chromium_exe():
    for name in ("chromium", "chromium-browser"):
        exe = shutil.which(name)
        if exe:
            return exe
    raise AssertionError(
        "chromium is not installed: test_html.py opens report.html in "
        "headless Chromium; install it with `bash scripts/deps.sh --test` "
        "(Debian's chromium package)")


def chromium(test, url, *args):
    """Runs headless Chromium on URL; returns (stdout, stderr)."""
    exe = chromium_exe()
    profile = tempfile.mkdtemp(prefix="mpptest-chromium-")
    test.addCleanup(shutil.rmtree, profile, True)
    argv = [exe] + CHROMIUM_FLAGS + ["--user-data-dir=" + profile] + \
        list(args) + [url]
    # The sanitizer build preloads its runtime into every process the
    # suite starts (tests/integration/CMakeLists.txt); the browser is not
    # under test and must not get it.
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS")}
    p = subprocess.run(argv, capture_output=True, text=True, timeout=180,
                       env=env)
    test.assertEqual(p.returncode, 0, "%s\n%s" % (argv, p.stderr[-3000:]))
    return p.stdout, p.stderr


class DomParser(html.parser.HTMLParser):
    """The attributes of the elements the checks read, by id (and body)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.attrs, self.scripts, self.text = {}, 0, []
        self._cell = None
        # The verdict's sentence, as the page wrote it.
        self.verdict, self._in_verdict = [], 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.attrs["body"] = a
        if "id" in a:
            self.attrs[a["id"]] = a
        if tag == "script":
            self.scripts += 1
        if tag == "td":
            self._cell = []
        if a.get("id") == "verdict" or self._in_verdict:
            self._in_verdict += 1

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.text.append("".join(self._cell))
            self._cell = None
        if self._in_verdict:
            self._in_verdict -= 1

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._in_verdict:
            self.verdict.append(data)


def render(test, page, fragment=""):
    """The page's DOM after it rendered in Chromium, parsed, and the
    browser's log."""
    out, err = chromium(test, "file://" + page + fragment, "--dump-dom")
    dom = DomParser()
    dom.feed(out)
    body = dom.attrs.get("body", {})
    test.assertEqual(body.get("data-render"), "done",
                     "the page did not finish: %r\n%s" % (body, err[-2000:]))
    test.assertEqual(body.get("data-errors"), "0", body)
    test.assertEqual(body.get("data-csp-violations"), "0",
                     "the page tried a request: %r" % body)
    lines = [l for l in err.splitlines() if "Uncaught" in l]
    test.assertEqual(lines, [], "script errors in the console")
    return dom


def png_pixels(path):
    """(width, height, set of RGB colours) of an 8-bit RGB or RGBA PNG."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise AssertionError("not a PNG")
    pos, idat, w = 8, [], None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", chunk[:10])
            if depth != 8 or ctype not in (2, 6):
                raise AssertionError("PNG depth %d type %d" % (depth, ctype))
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat.append(chunk)
        pos += 12 + n
    raw = zlib.decompress(b"".join(idat))
    stride, prev, colours = w * bpp, bytearray(w * bpp), set()
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(
            raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else
                                      b if pb <= pc else c)) & 255
        for x in range(0, stride, bpp):
            colours.add(bytes(line[x:x + 3]))
        prev = line
    return w, h, colours


def func_key(fn):
    """A function as the page names it in data-names (pstats' spelling)."""
    if fn["file"] == "~" and fn["line"] == 0:
        return "{%s}" % fn["name"]
    return "%s:%d(%s)" % (fn["file"], fn["line"], fn["name"])


class TestPage(unittest.TestCase):
    N = 400

    def assertHottestIn(self, rep, names):
        hottest = max(rep["functions"], key=lambda f: f["tottime_s"])
        self.assertTrue(func_key(hottest) in names,
                        "the hottest function %s is not in the flame graph "
                        "(%d frames named)" % (func_key(hottest), len(names)))

    @classmethod
    def setUpClass(cls):
        chromium_exe()

    def test_pool(self):
        tmp = mpptest.mktemp(self)
        truth_file = os.path.join(tmp, "truth.jsonl")
        r = mpptest.run([mpptest.target("t_mp.py"), "pool", "fork",
                         str(self.N)], test=self, quiet=False,
                        extra_env={"MPPTEST_TRUTH_FILE": truth_file})
        self.assertEqual(r.returncode, 0, r.describe())
        page = r.path("report.html")
        self.assertTrue(os.path.isfile(page), r.describe())
        closing = [l for l in r.stderr.splitlines()
                   if "profile written to" in l]
        self.assertEqual(len(closing), 1, r.describe())
        self.assertIn("report.html", closing[0])
        rep = mpptest.report_json(r.outdir)
        with open(truth_file) as f:
            truth = [json.loads(l) for l in f if l.strip()]
        started = {t["pid"] for t in truth if t["role"] in ("main",
                                                            "pool-worker")}
        self.assertEqual(len(started), 3, truth)

        t0 = time.monotonic()
        dom = render(self, page)
        wall = time.monotonic() - t0
        size = os.path.getsize(page)
        sys.stderr.write("report.html: %d bytes, %d functions, %d "
                         "processes; first render %s ms in the page, "
                         "Chromium %.2f s in all\n" % (
                             size, len(rep["functions"]),
                             len(rep["processes"]),
                             dom.attrs["body"].get("data-render-ms"), wall))

        # Every process of the run is a lane, and only those.
        tl = dom.attrs["timeline"]
        pids = {int(x) for x in tl["data-pids"].split()}
        self.assertEqual(pids, {p["pid"] for p in rep["processes"]})
        self.assertLessEqual(started, pids)
        self.assertEqual(int(tl["data-lanes"]), len(rep["processes"]))

        # The time bars: one row per process.
        self.assertEqual(int(dom.attrs["time-bars"]["data-rows"]),
                         len(rep["processes"]))

        # The hottest function (the most own time) is a frame of the flame
        # graph.
        fg = dom.attrs["flame"]
        self.assertEqual(fg["data-process"], "all")
        names = set(json.loads(fg["data-names"]))
        self.assertHottestIn(rep, names)
        work = mpptest.json_functions(rep, "t_mp.py", "work")
        self.assertEqual(len(work), 1)
        self.assertEqual(work[0]["ncalls"], self.N)
        total_all = int(fg["data-total-us"])
        # The graph's total is the time the profile measured, as the report
        # counts it (thread time less start-up before the hook, which no
        # function holds), so it is at most the thread time.
        self.assertGreater(total_all, 0)
        self.assertLessEqual(total_all, rep["thread_s"] * 1e6 + 1000)

        # Choosing a worker in the filter redraws the graph with its own,
        # smaller, total, and the worker's own hottest function in it.
        worker = next(p for p in rep["processes"] if p["role"] == "worker"
                      and p["calls"] > 0)
        dom2 = render(self, page, "#process=%d" % worker["pid"])
        fg2 = dom2.attrs["flame"]
        self.assertEqual(fg2["data-process"], str(worker["pid"]))
        self.assertGreaterEqual(int(fg2["data-renders"]), 2)
        total_w = int(fg2["data-total-us"])
        self.assertGreater(total_w, 0)
        self.assertLess(total_w, total_all)
        self.assertLessEqual(total_w, worker["thread_s"] * 1e6 + 1000)
        names_w = set(json.loads(fg2["data-names"]))
        self.assertNotEqual(names_w, names)
        self.assertHottestIn(mpptest.report_json(
            r.outdir, ["--process", str(worker["pid"])]), names_w)

        # The screenshot shows the page: many colours, the bars' among them.
        shot = os.path.join(mpptest.mktemp(self), "shot.png")
        chromium(self, "file://" + page, "--screenshot=" + shot)
        w, h, colours = png_pixels(shot)
        self.assertEqual((w, h), (1400, 2400))
        self.assertGreater(len(colours), 50, "a blank screenshot")
        self.assertIn(bytes(COMPUTE_RGB), colours)


    def test_verdict_moving_data(self):
        """A Pool whose tasks carry megabytes: the page's verdict names
        moving data, as report --json's does, with the parts the JSON
        gives (pickling, unpickling, the pipe transfers)."""
        r = mpptest.run([mpptest.target("verdict_payload.py"), "fork", "4"],
                        test=self)
        self.assertEqual(r.returncode, 0, r.describe())
        rep = mpptest.report_json(r.outdir)
        self.assertEqual(rep["verdict"]["leading"], "serialisation",
                         rep["verdict"])
        dom = render(self, r.path("report.html"))
        text = " ".join("".join(dom.verdict).split())
        self.assertTrue(text.startswith("Leading cost: moving data, "), text)
        parts = {"pickling": "pickle_s", "unpickling": "unpickle_s",
                 "pipe transfers": "transfer_s"}
        for words, key in parts.items():
            # A part is named exactly when the JSON gives it time.
            named = re.search("[;,] " + words + " [0-9]", text) is not None
            self.assertEqual(named,
                             rep["moving_data"][key] > 0, (text, rep))

# Sent after the page rendered: what a person does with the mouse and
# keyboard, as DOM events, each step's results recorded on #selftest.  The
# page's policy allows inline scripts, so a copy of the page with this
# appended runs it; the page itself carries no test code.
DRIVER = r"""<script>
window.addEventListener('load', function () {
  var out = document.createElement('div');
  out.id = 'selftest';
  document.body.appendChild(out);
  function rec(k, v) { out.setAttribute('data-' + k, String(v)); }
  function ev(target, type, x, y, extra) {
    var r = target.getBoundingClientRect(), init = {bubbles: true,
      cancelable: true, clientX: r.left + x, clientY: r.top + y, button: 0};
    for (var k in extra || {}) init[k] = extra[k];
    target.dispatchEvent(type === 'wheel' ? new WheelEvent(type, init)
                                          : new MouseEvent(type, init));
  }
  var tl = document.getElementById('timeline');
  var fg = document.getElementById('flame');
  var tip = document.getElementById('tooltip');
  var w = tl.clientWidth, lane = 32;
  var steps = [
    function () {
      rec('view0', tl.dataset.view);
      rec('rows0', tl.dataset.rows);
      ev(tl, 'wheel', w * 0.6, lane, {deltaY: -600});
    },
    function () {
      rec('view-zoomed', tl.dataset.view);
      ev(tl, 'mousedown', w * 0.6, lane);
      ev(tl, 'mousemove', w * 0.5, lane);
      ev(tl, 'mouseup', w * 0.5, lane);
    },
    function () {
      rec('view-panned', tl.dataset.view);
      ev(tl, 'mousemove', w * 0.6, lane);
      rec('tl-tip', tip.hidden ? '' : tip.textContent);
      ev(tl, 'mousedown', 50, lane);
      ev(tl, 'mouseup', 50, lane);
    },
    function () {
      rec('rows1', tl.dataset.rows);
      ev(tl, 'dblclick', w * 0.5, lane);
    },
    function () {
      rec('view-reset', tl.dataset.view);
      ev(fg, 'mousemove', 5, 25);
      rec('fg-tip', tip.hidden ? '' : tip.textContent);
      rec('zoom0', fg.dataset.zoom);
      ev(fg, 'click', 5, 25);
      rec('zoom1', fg.dataset.zoom);
      var box = document.getElementById('flame-search');
      box.value = 'wait';
      box.dispatchEvent(new Event('input'));
      rec('matched', fg.dataset.matchedUs);
      document.getElementById('flame-reset').click();
      rec('zoom2', fg.dataset.zoom);
      var colour = document.getElementById('flame-colour');
      colour.value = 'category';
      colour.dispatchEvent(new Event('change'));
      document.querySelectorAll('#func-table th')[1].click();
      rec('sorted', document.querySelector('#func-table th.sorted').textContent);
      rec('done', 1);
    }
  ];
  var i = 0;
  (function next() {
    if (i < steps.length) { steps[i++](); setTimeout(next, 200); }
  })();
});
</script>
"""


class TestInteraction(unittest.TestCase):
    """Zoom, pan, hover and click, sent as DOM events to the page of a
    Pool run: the timeline's view narrows on the wheel, moves on a drag and
    comes back on a double-click; a click on a name shows its threads;
    hovering shows a tooltip; a click on a frame zooms the flame graph and
    "Reset zoom" undoes it; the search marks time; a column sorts; and no
    script error comes of any of it.  A copy of the page with an image
    from the network shows that the page counts the request its policy
    blocks."""

    def test_events(self):
        chromium_exe()
        truth = os.path.join(mpptest.mktemp(self), "truth.jsonl")
        r = mpptest.run([mpptest.target("t_mp.py"), "pool", "fork", "50"],
                        test=self, extra_env={"MPPTEST_TRUTH_FILE": truth})
        self.assertEqual(r.returncode, 0, r.describe())
        with open(r.path("report.html"), encoding="utf-8") as f:
            page = f.read()
        driven = os.path.join(mpptest.mktemp(self), "driven.html")
        with open(driven, "w", encoding="utf-8") as f:
            f.write(page.replace("</body>", DRIVER + "</body>"))
        dom = render(self, driven)
        st = dom.attrs.get("selftest", {})
        self.assertEqual(st.get("data-done"), "1", st)

        def span(key):
            a, b = (int(x) for x in st[key].split())
            return a, b, b - a

        a0, b0, w0 = span("data-view0")
        az, bz, wz = span("data-view-zoomed")
        ap, bp, wp = span("data-view-panned")
        self.assertLess(wz, w0 * 0.8, st)
        self.assertTrue(a0 <= az < bz <= b0, st)
        self.assertLessEqual(abs(wp - wz), 2, st)
        self.assertGreater(ap, az, st)  # dragged to the left: later times
        self.assertEqual(st["data-view-reset"], st["data-view0"])
        self.assertGreater(int(st["data-rows1"]), int(st["data-rows0"]))
        self.assertNotEqual(st["data-tl-tip"], "")
        self.assertIn("on this path", st["data-fg-tip"])
        self.assertEqual(st["data-zoom0"], "all processes")
        self.assertNotEqual(st["data-zoom1"], "all processes")
        self.assertEqual(st["data-zoom2"], "all processes")
        self.assertGreater(int(st["data-matched"]), 0)
        self.assertEqual(st["data-sorted"], "tottime")

        # The request counter can see a request: the same page with an
        # image from the network counts it (and the policy blocks it).
        leaky = os.path.join(mpptest.mktemp(self), "leaky.html")
        with open(leaky, "w", encoding="utf-8") as f:
            f.write(page.replace("</body>", '<img src="http://192.0.2.1/x.png">'
                                 "</body>"))
        out, _ = chromium(self, "file://" + leaky, "--dump-dom")
        dom = DomParser()
        dom.feed(out)
        self.assertGreaterEqual(
            int(dom.attrs["body"].get("data-csp-violations", "0")), 1,
            dom.attrs["body"])


class TestHostile(unittest.TestCase):
    EVIL = "</script><script>alert(1)</script>"

    @classmethod
    def setUpClass(cls):
        chromium_exe()

    def test_names(self):
        r = mpptest.run([mpptest.target("html_names.py"), "8"], test=self)
        self.assertEqual(r.returncode, 0, r.describe())
        rep = mpptest.report_json(r.outdir)
        evil = [f for f in rep["functions"] if f["name"] == self.EVIL]
        self.assertEqual(len(evil), 1, [f["name"] for f in rep["functions"]])
        dom = render(self, r.path("report.html"))
        # The page's own two scripts, no third made of the name.
        self.assertEqual(dom.scripts, 2)
        self.assertTrue(any(self.EVIL in cell for cell in dom.text),
                        "the name is not shown in the function table")
        names = set(json.loads(dom.attrs["flame"]["data-names"]))
        self.assertTrue(func_key(evil[0]) in names,
                        "the hostile function is not in the flame graph")


class TestCommand(unittest.TestCase):
    def test_report_html(self):
        truth = os.path.join(mpptest.mktemp(self), "truth.jsonl")
        r = mpptest.run([mpptest.target("t_mp.py"), "pool", "fork", "20"],
                        test=self, extra_env={"MPPTEST_TRUTH_FILE": truth})
        self.assertEqual(r.returncode, 0, r.describe())
        rep = mpptest.report_json(r.outdir)
        with open(r.path("report.html"), "rb") as f:
            page = f.read()
        out = os.path.join(mpptest.mktemp(self), "page.html")
        p = mpptest.mpprof(["report", r.outdir, "--html", "-o", out])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "")
        with open(out, "rb") as f:
            self.assertEqual(f.read(), page)
        p = mpptest.mpprof(["report", r.path("session.mpprof"), "--html"],
                           text=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, page)
        p = mpptest.mpprof(["report", r.outdir, "--html", "--json"])
        self.assertEqual(p.returncode, 2)
        self.assertIn("--html", p.stderr)
        p = mpptest.mpprof(["report", r.outdir, "--html", "-o",
                            os.path.join(r.outdir, "no", "such", "x.html")])
        self.assertEqual(p.returncode, 1)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)

        # compare --html: the run against itself, in Chromium: the page
        # shows the comparison with compare --json's speedup.
        p = mpptest.mpprof(["compare", r.outdir, r.outdir, "--json"])
        self.assertEqual(p.returncode, 0, p.stderr)
        cmp = json.loads(p.stdout)
        out = os.path.join(mpptest.mktemp(self), "compare.html")
        p = mpptest.mpprof(["compare", r.outdir, r.outdir, "--html",
                            "-o", out])
        self.assertEqual(p.returncode, 0, p.stderr)
        chromium_exe()
        dom = render(self, out)
        sec = dom.attrs["sec-compare"]
        self.assertNotIn("hidden", sec)
        self.assertAlmostEqual(float(sec["data-speedup"]), cmp["speedup"],
                               places=9)
        self.assertEqual(dom.attrs["timeline"]["data-pids"],
                         " ".join(str(x["pid"]) for x in rep["processes"]))
        p = mpptest.mpprof(["compare", r.outdir, r.outdir, "--html",
                            "--json"])
        self.assertEqual(p.returncode, 2)


class TestHosts(unittest.TestCase):
    """A session across two simulated hosts (mpprof collect, two runs
    --join with MPPROF_HOST alpha and beta): the timeline has a row
    naming each host, and under it that host's processes (as report
    --json places them); the process table opens grouped by host, with
    the host and rank columns."""

    @classmethod
    def setUpClass(cls):
        chromium_exe()

    def test_grouped_by_host(self):
        import test_hosts
        c = test_hosts.Collector(self, "--expect", "2", "--idle", "60")
        # beta first, so that grouping is not just the order of arrival.
        for host, n in (("beta", 7), ("alpha", 5)):
            r = test_hosts.run_join(c.join, [mpptest.target("hosts_pool.py"),
                                             str(n)], host=host)
            self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(c.wait(), 0, c.stderr)
        rep = c.report()
        by_host = {}
        for p in rep["processes"]:
            by_host.setdefault(p["host"], []).append(p["pid"])
        self.assertEqual(set(by_host), {"alpha", "beta"})
        dom = render(self, os.path.join(c.out, "report.html"))
        tl = dom.attrs["timeline"]
        hosts = json.loads(tl["data-hosts"])
        self.assertEqual(sorted(hosts), ["alpha", "beta"])
        # Lanes: each host's processes together, in the hosts' order.
        pids = [int(x) for x in tl["data-pids"].split()]
        self.assertEqual(pids, [pid for h in hosts for pid in by_host[h]])
        self.assertEqual(int(tl["data-rows"]), len(pids) + len(hosts))
        table = dom.attrs["proc-table"]
        rows = json.loads(table["data-row-hosts"])
        self.assertEqual(rows, sorted(p["host"] for p in rep["processes"]))
        self.assertIn("alpha", dom.text)


if __name__ == "__main__":
    mpptest.main()
