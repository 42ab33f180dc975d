"""Checks mpprof's output files with their real consumers.

test_writers.c writes a file and an expectation (JSON), then runs

    check_writers.py KIND FILE [EXPECT [PLAIN]]

and asserts exit status 0.  KIND is one of:

  pstats     FILE loads with pstats.Stats and holds exactly the expected
             dict; pyprof2calltree converts it, when installed.  With a
             fourth argument PLAIN (the same stats written in marshal
             version 2): PLAIN's bytes equal marshal.dumps(its dict, 2),
             FILE loads to an equal dict that pstats prints identically,
             and FILE's references are real: each caller key is the very
             object that is the function's own key.  EXPECT "-" checks
             no expected dict.
  callgrind  FILE is well-formed callgrind (one part) as KCachegrind reads
             it, its self costs and calls match, and callgrind_annotate
             agrees on self and inclusive totals.
  parts      FILE is the per-process callgrind file: one part per process,
             compression re-defined in each, self costs summing to the
             merged ones.
  json       FILE parses with json.loads, has every design.md key and
             the call sites the report adds, and EXPECT (a partial
             document) is a subset of it.
  text       FILE (a text report) contains every row pstats.print_stats
             prints for EXPECT (a pstats file).
  compare    FILE parses with json.loads, has every design.md key of
             `compare --json`, its numbers agree with their definitions
             (the lost_s parts add up to the gap), and EXPECT is a
             subset of it.
  html       FILE (report.html) parses with html.parser into exactly the
             page's two scripts and one style, makes no request (no src
             or href, a Content-Security-Policy of default-src 'none'),
             and its data element is JSON whose "report" is a `report
             --json` document (equal to the fourth argument's, when
             given) and whose "model" is consistent (indexes in range,
             processes in the report's order); EXPECT gives function
             names that must be there and the spans kept.  A page of
             `compare --html` holds "compare" (checked as `compare --json`
             is) and "baseline": {"report"} too, and EXPECT says so.

Expectations for pstats/callgrind/parts:
  {"functions": [[file, line, name, cc, nc, tt_ns, ct_ns,
                  [[cfile, cline, cname, nc, cc, tt_ns, ct_ns], ...],
                  recursive], ...],
   "pids": [pid, ...]}
"""

import html.parser
import io
import json
import marshal
import os
import pstats
import re
import shutil
import subprocess
import sys


class CheckError(Exception):
    pass


def fail(msg):
    raise CheckError(msg)


def expect_eq(what, got, want):
    if got != want:
        fail("%s: got %r, want %r" % (what, got, want))


def load_expect(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def cg_names(funcs):
    """Callgrind names: ':line' appended where a name repeats in a file."""
    seen = {}
    for f in funcs:
        seen.setdefault((f[0], f[2]), []).append(f[1])
    names = {}
    for f in funcs:
        clash = len(seen[(f[0], f[2])]) > 1
        names[(f[0], f[1], f[2])] = f[2] + (":%d" % f[1] if clash else "")
    return names


# ---- pstats ---------------------------------------------------------------

def pstats_text(path):
    """Everything pstats prints for a file, in every order it offers."""
    out = io.StringIO()
    st = pstats.Stats(path, stream=out)
    for key in ("cumulative", "tottime", "calls", "nfl"):
        st.sort_stats(key).print_stats()
        st.print_callers()
        st.print_callees()
    # The first line of each listing is the file's mtime and name.
    return re.sub(r"^.*    %s$" % re.escape(path), "FILE", out.getvalue(),
                  flags=re.M)


def check_same(path, plain):
    """`path` (marshal version 4, with references) loads to the same stats
    as `plain` (version 2, byte for byte what marshal.dumps(stats, 2)
    writes), and pstats prints them the same."""
    with open(plain, "rb") as f:
        raw_plain = f.read()
    with open(path, "rb") as f:
        raw = f.read()
    want = marshal.loads(raw_plain)
    if marshal.dumps(want, 2) != raw_plain:
        fail("%s: bytes differ from marshal.dumps(stats, 2)" % plain)
    got = marshal.loads(raw)
    expect_eq("dict loaded from %s" % path, got, want)
    expect_eq("key order", list(got), list(want))
    for key, value in got.items():
        expect_eq("callers order of %r" % (key,), list(value[4]),
                  list(want[key][4]))
    if len(raw) >= len(raw_plain):
        fail("%s (%d bytes) is no smaller than %s (%d bytes)"
             % (path, len(raw), plain, len(raw_plain)))
    # The references are real: one key object per function.
    keys = {k: k for k in got}
    for key, value in got.items():
        for caller in value[4]:
            if caller is not keys[caller]:
                fail("caller key %r is a copy, not a reference" % (caller,))
    pa, pb = pstats.Stats(path), pstats.Stats(plain)
    for attr in ("stats", "total_calls", "prim_calls", "total_tt"):
        expect_eq("pstats %s" % attr, getattr(pa, attr), getattr(pb, attr))
    expect_eq("pstats output", pstats_text(path), pstats_text(plain))


def check_pstats(path, exp, plain=None):
    st = pstats.Stats(path)
    if exp is not None:
        want = {}
        for f in exp["functions"]:
            callers = {(c[0], c[1], c[2]): (c[3], c[4], c[5] / 1e9,
                                            c[6] / 1e9)
                       for c in f[7]}
            want[(f[0], f[1], f[2])] = (f[3], f[4], f[5] / 1e9, f[6] / 1e9,
                                        callers)
        for key in sorted(set(want) | set(st.stats), key=repr):
            expect_eq("stats[%r]" % (key,), st.stats.get(key), want.get(key))
        funcs = exp["functions"]
        expect_eq("total_calls", st.total_calls, sum(f[4] for f in funcs))
        expect_eq("prim_calls", st.prim_calls, sum(f[3] for f in funcs))
    # The consumer's own printing paths must work on the file too.
    st.stream = io.StringIO()
    st.sort_stats("cumulative").print_stats()
    st.print_callers()
    st.print_callees()
    # Every printing path must give the same text as for the plain file.
    if plain is not None:
        check_same(path, plain)
    # pyprof2calltree looks up every caller as a key of the dict, and runs
    # under whatever Python it was installed for; it is optional.  It cannot
    # write the surrogate escapes of an undecodable file name (nor can it
    # for cProfile's files), so such files skip it.
    exe = shutil.which("pyprof2calltree")
    if exe is not None and not any(
            "\udc80" <= ch <= "\udcff"
            for key in st.stats for part in (key[0], key[2]) for ch in part):
        run = subprocess.run([exe, "-i", path, "-o", path + ".p2c"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if run.returncode != 0:
            fail("pyprof2calltree failed: %s"
                 % run.stderr.decode("utf-8", "replace"))


# ---- callgrind ------------------------------------------------------------

HEADER_KEYS = ("version", "creator", "cmd", "part", "pid", "thread", "desc",
               "positions", "event", "events", "summary", "totals")


# The category events after time in callgrind files (issue 14).
CG_CATS = ("Pickle", "Unpickle", "LockWait", "IpcWait", "Startup")


def parse_callgrind(path):
    """Parses like KCachegrind: a list of parts, each with per-function
    self costs and calls, enforcing the rules the writer must respect."""
    with open(path, "rb") as f:
        lines = f.read().decode("utf-8", "replace").split("\n")
    if lines[0] != "# callgrind format":
        fail("first line is %r" % lines[0])
    parts = []
    part = None
    fn = None
    pending_call = None
    last_was_cfl = False
    cfl = None

    def new_part():
        nonlocal part
        part = {"header": {}, "fl": {}, "fn": {}, "self": {}, "calls": {},
                "events": 0}
        parts.append(part)

    def name(kind, text):
        m = re.match(r"^\((\d+)\)(?: (.*))?$", text)
        if not m:
            fail("uncompressed name %s=%r" % (kind, text))
        table = part[kind]
        if m.group(2) is not None:
            if m.group(1) in table:
                fail("%s id %s defined twice in a part" % (kind, m.group(1)))
            table[m.group(1)] = m.group(2)
        elif m.group(1) not in table:
            fail("%s id %s used before it was defined in this part"
                 % (kind, m.group(1)))
        return table[m.group(1)]

    new_part()
    for no, line in enumerate(lines[1:], 2):
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-z]+): ?(.*)$", line)
        if m and m.group(1) in HEADER_KEYS:
            key, val = m.groups()
            # KCachegrind's prepareNewPart(): these keys start a new part
            # once the current one has its events: line.
            if key in ("part", "pid", "thread", "events", "positions") \
                    and part["events"]:
                new_part()
            part["header"].setdefault(key, []).append(val)
            part["events"] += key == "events"
            continue
        if pending_call is not None:
            # Position, time, then the category events (issue 14), whose
            # trailing zeros the format lets the writer leave out.
            nums = line.split()
            if not 2 <= len(nums) <= 2 + len(CG_CATS) or \
                    not all(n.isdigit() for n in nums):
                fail("line %d: call cost line %r" % (no, line))
            key = (fn, pending_call[0])
            calls, incl = part["calls"].get(key, (0, 0))
            part["calls"][key] = (calls + pending_call[1], incl + int(nums[1]))
            pending_call = None
            continue
        m = re.match(r"^(fl|fn|cfl|cfn|calls)=(.*)$", line)
        if m:
            key, val = m.groups()
            if key == "cfn" and not last_was_cfl:
                fail("line %d: cfn= without a cfl= right before it" % no)
            last_was_cfl = key == "cfl"
            if key == "fl":
                fl = name("fl", val)
            elif key == "fn":
                fn = (fl, name("fn", val))
            elif key == "cfl":
                cfl = name("fl", val)
            elif key == "cfn":
                callee = (cfl, name("fn", val))
            else:
                pending_call = (callee, int(val.split()[0]))
            continue
        nums = line.split()
        if not 2 <= len(nums) <= 2 + len(CG_CATS) or \
                not all(n.isdigit() for n in nums) or fn is None:
            fail("line %d: bad cost line %r" % (no, line))
        part["self"][fn] = part["self"].get(fn, 0) + int(nums[1])
    for p in parts:
        expect_eq("events: lines in a part", p["events"], 1)
        expect_eq("events", p["header"]["events"],
                  [" ".join(("ns",) + CG_CATS)])
        total = sum(p["self"].values())
        summary = p["header"].get("summary", [""])[0].split()
        expect_eq("summary", summary[:1], [str(total)])
        if len(summary) > 1 + len(CG_CATS):
            fail("summary has more numbers than events: %r" % summary)
    return parts


SKIP_STATUS = 77


class Skipped(Exception):
    """A consumer the check needs is not installed."""


def annotate(path, inclusive):
    """Runs callgrind_annotate; returns {"file:name": cost}."""
    exe = shutil.which("callgrind_annotate")
    if exe is None:
        raise Skipped("callgrind_annotate not found (Debian: valgrind)")
    # From "/", so that it strips no directory prefix from file names.
    run = subprocess.run(
        [exe, "--inclusive=%s" % ("yes" if inclusive else "no"),
         "--threshold=100", "--auto=no", "--show=ns", os.path.abspath(path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/")
    if run.returncode != 0:
        fail("callgrind_annotate failed: %s"
             % run.stderr.decode("utf-8", "replace"))
    out = run.stdout.decode("utf-8", "replace")
    lines = out.split("\n")
    start = [i for i, l in enumerate(lines) if l.endswith(" file:function")]
    if not start:
        fail("callgrind_annotate printed no function table:\n" + out)
    totals = {}
    for line in lines[start[0] + 2:]:
        m = re.match(r"^\s*([\d,]+) \(\s*[\d.]+%\)  (.*)$", line)
        if m:
            totals[m.group(2)] = int(m.group(1).replace(",", ""))
    return totals


def replaced(text):
    """How a UTF-8 reader with errors="replace" sees the raw bytes behind
    a name that pstats keeps as surrogate escapes."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def check_callgrind(path, exp, parts_file):
    # The callgrind format is plain text: undecodable bytes become U+FFFD.
    funcs = [[replaced(f[0]), f[1], replaced(f[2])] + f[3:]
             for f in exp["functions"]]
    for f in funcs:
        f[7] = [[replaced(c[0]), c[1], replaced(c[2])] + c[3:]
                for c in f[7]]
    names = cg_names(funcs)
    parts = parse_callgrind(path)
    if parts_file:
        expect_eq("parts", len(parts), len(exp["pids"]))
        for i, (p, pid) in enumerate(zip(parts, exp["pids"]), 1):
            expect_eq("part number", p["header"].get("part"), [str(i)])
            expect_eq("pid", p["header"].get("pid"), [str(pid)])
    else:
        expect_eq("parts", len(parts), 1)
    got_self = {}
    got_calls = {}
    for p in parts:
        for k, v in p["self"].items():
            got_self[k] = got_self.get(k, 0) + v
        for k, (c, incl) in p["calls"].items():
            c0, i0 = got_calls.get(k, (0, 0))
            got_calls[k] = (c0 + c, i0 + incl)
    want_self = {(f[0], names[tuple(f[:3])]): f[5] for f in funcs}
    expect_eq("self costs", got_self, want_self)
    want_calls = {}
    for f in funcs:
        for c in f[7]:
            caller = (c[0], names[tuple(c[:3])])
            want_calls[(caller, (f[0], names[tuple(f[:3])]))] = (c[3], c[6])
    expect_eq("calls", got_calls, want_calls)

    selfs = annotate(path, False)
    want = {"%s:%s" % k: v for k, v in want_self.items()}
    expect_eq("callgrind_annotate self", selfs, want)
    if parts_file:
        return
    incl = annotate(path, True)
    for f in funcs:
        if f[8]:
            continue  # recursion makes callers' sums exceed cumtime
        key = "%s:%s" % (f[0], names[tuple(f[:3])])
        expect_eq("callgrind_annotate inclusive %s" % key, incl.get(key), f[6])


# ---- json and text --------------------------------------------------------

TOP_KEYS = {"mpprof_version", "python", "command", "wall_s", "exit_status",
            "processes", "categories", "functions", "integrity"}
PROC_KEYS = {"pid", "ppid", "name", "start_method", "wall_s", "cpu_s", "exit",
             "calls", "threads", "categories"}
CAT_KEYS = {"pickle_s", "unpickle_s", "lock_wait_s", "ipc_wait_s",
            "startup_s"}
FUNC_KEYS = {"file", "line", "name", "ncalls", "pcalls", "tottime_s",
             "cumtime_s", "processes"}
INTEGRITY_KEYS = {"messages", "rejected", "seq_gaps", "processes_lost"}
SITE_CATS = {"lock_wait", "pickle"}
SITE_KEYS = {"file", "line", "name", "process_pids", "count", "seconds",
             "bytes"}


def has_keys(what, obj, keys):
    missing = keys - set(obj)
    if missing:
        fail("%s lacks %s" % (what, sorted(missing)))


def subset(what, got, want):
    if isinstance(want, dict):
        if not isinstance(got, dict):
            fail("%s: got %r, want an object" % (what, got))
        for k, v in want.items():
            if k not in got:
                fail("%s: no key %r" % (what, k))
            subset("%s.%s" % (what, k), got[k], v)
    elif isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            fail("%s: got %r, want %r" % (what, got, want))
        for i, (g, w) in enumerate(zip(got, want)):
            subset("%s[%d]" % (what, i), g, w)
    elif type(got) is not type(want) or got != want:
        fail("%s: got %r, want %r" % (what, got, want))


def check_json(path, exp):
    with open(path, "rb") as f:
        doc = json.loads(f.read())
    check_report_doc(doc, exp)


def check_report_doc(doc, exp):
    has_keys("report", doc, TOP_KEYS)
    has_keys("categories", doc["categories"], CAT_KEYS)
    has_keys("integrity", doc["integrity"], INTEGRITY_KEYS)
    for p in doc["processes"]:
        has_keys("process", p, PROC_KEYS)
        has_keys("process categories", p["categories"], CAT_KEYS)
        if not re.match(r"^(ok|exit:-?\d+|signal:\d+|lost)$", p["exit"]):
            fail("exit %r" % p["exit"])
    for fn in doc["functions"]:
        has_keys("function", fn, FUNC_KEYS)
    has_keys("sites", doc["sites"], SITE_CATS)
    for cat, sites in doc["sites"].items():
        for site in sites:
            has_keys("%s site" % cat, site, SITE_KEYS)
        secs = [site["seconds"] for site in sites]
        if secs != sorted(secs, reverse=True):
            fail("%s sites are not ordered by time: %r" % (cat, secs))
    subset("report", doc, exp)


def check_text(path, prof):
    with open(path, encoding="utf-8") as f:
        text = f.read().split("\n")
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats()
    rows = out.getvalue().split("\n")
    start = [i for i, r in enumerate(rows) if "ncalls  tottime" in r][0]
    for row in rows[start:]:
        row = replaced(row)
        if row.strip() and row not in text:
            fail("pstats row %r is not in the report" % row)


CMP_KEYS = {"baseline", "parallel", "speedup", "ideal_speedup",
            "efficiency", "lost_s"}
LOST_KEYS = {"pickle", "unpickle", "lock_wait", "ipc_wait", "startup",
             "imbalance", "other"}


def check_compare(path, exp):
    with open(path, "rb") as f:
        doc = json.loads(f.read())
    check_compare_doc(doc, exp)


def check_compare_doc(doc, exp):
    has_keys("compare", doc, CMP_KEYS)
    has_keys("baseline", doc["baseline"], {"wall_s", "processes"})
    has_keys("parallel", doc["parallel"], {"wall_s", "processes", "workers"})
    has_keys("lost_s", doc["lost_s"], LOST_KEYS)
    base, par = doc["baseline"]["wall_s"], doc["parallel"]["wall_s"]
    ideal = doc["ideal_speedup"]
    # The writer divides nanoseconds, this the seconds printed from them.
    if abs(doc["speedup"] - base / par) > 1e-12 * base / par:
        fail("speedup %r is not %r / %r" % (doc["speedup"], base, par))
    expect_eq("ideal_speedup", ideal, float(doc["parallel"]["workers"]))
    expect_eq("efficiency", doc["efficiency"], doc["speedup"] / ideal)
    gap = par - base / ideal
    parts = sum(doc["lost_s"][k] for k in LOST_KEYS)
    if abs(parts - gap) > 1e-9:
        fail("lost_s parts add up to %r, the gap is %r" % (parts, gap))
    for fn in doc.get("functions", []):
        has_keys("function", fn, {"file", "line", "name", "baseline_s",
                                  "parallel_s", "delta_s"})
    subset("compare", doc, exp)


# ---- trace.json and callgrind categories (issue 14) -----------------------

def check_trace(path, exp):
    """trace.json as Perfetto and chrome://tracing read it: one JSON object
    with traceEvents, a process_name per process, X slices whose sums per
    category are what the session's spans add up to."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        doc = json.loads(raw.decode("utf-8"))
    except ValueError as e:
        fail("not JSON: %s" % e)
    if not isinstance(doc, dict) or not isinstance(doc.get("traceEvents"), list):
        fail("no traceEvents list")
    expect_eq("displayTimeUnit", doc.get("displayTimeUnit"), "ms")
    procs, threads, slices, counts, nbytes, life, funcs = {}, {}, {}, {}, {}, {}, []
    selfs = {}
    for e in doc["traceEvents"]:
        for k in ("name", "ph", "pid", "tid"):
            if k not in e:
                fail("event without %r: %r" % (k, e))
        if e["ph"] == "M":
            if e["name"] == "process_name":
                procs[str(e["pid"])] = e["args"]["name"]
            elif e["name"] == "thread_name":
                threads[(e["pid"], e["tid"])] = e["args"]["name"]
            continue
        if e["ph"] != "X":
            fail("unexpected phase %r" % e["ph"])
        if not isinstance(e["ts"], (int, float)) or e["dur"] < 0:
            fail("bad ts/dur in %r" % e)
        if e.get("cat") == "process":
            life[str(e["pid"])] = [e["ts"], e["dur"]]
            continue
        cat = e["name"]
        slices[cat] = slices.get(cat, 0) + e["dur"]
        counts[cat] = counts.get(cat, 0) + 1
        nbytes[cat] = nbytes.get(cat, 0) + e["args"]["bytes"]
        selfs[cat] = selfs.get(cat, 0) + e["args"]["self_us"]
        if not 0 <= e["args"]["self_us"] <= e["dur"]:
            fail("self_us outside [0, dur] in %r" % e)
        if e["args"]["function"] is not None:
            funcs.append(e["args"]["function"])
    expect_eq("processes", procs, exp["processes"])
    for pid, life_exp in exp.get("lifetimes_us", {}).items():
        expect_eq("lifetime of %s" % pid, life.get(pid), life_exp)
    expect_eq("every process has a lifetime", sorted(life), sorted(procs))
    for pid, tid, name in exp.get("threads", []):
        expect_eq("thread %d/%d" % (pid, tid), threads.get((pid, tid)), name)
    for cat, us in exp.get("slices_us", {}).items():
        if abs(slices.get(cat, 0) - us) > 1e-6:
            fail("%s slices add up to %r us, want %r" % (cat, slices.get(cat), us))
    for cat, us in exp.get("self_us", {}).items():
        if abs(selfs.get(cat, 0) - us) > 1e-6:
            fail("%s slices' own time adds up to %r us, want %r"
                 % (cat, selfs.get(cat), us))
    if "slice_counts" in exp:
        expect_eq("slice counts", {k: v for k, v in counts.items()
                                   if k in exp["slice_counts"]},
                  exp["slice_counts"])
    for cat, b in exp.get("bytes", {}).items():
        expect_eq("%s bytes" % cat, nbytes.get(cat, 0), b)
    for fn in exp.get("functions", []):
        if fn not in funcs:
            fail("function %r not among the slices' %r" % (fn, funcs))


def annotate_totals(path):
    """callgrind_annotate's PROGRAM TOTALS per event ("." reads 0)."""
    exe = shutil.which("callgrind_annotate")
    if exe is None:
        raise Skipped("callgrind_annotate not found (Debian: valgrind)")
    run = subprocess.run([exe, "--inclusive=no", "--auto=no",
                          os.path.abspath(path)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/")
    if run.returncode != 0:
        fail("callgrind_annotate failed: %s"
             % run.stderr.decode("utf-8", "replace"))
    out = run.stdout.decode("utf-8", "replace")
    events = None
    for line in out.split("\n"):
        if line.startswith("Events shown:"):
            events = line.split(":", 1)[1].split()
        if line.endswith("PROGRAM TOTALS"):
            cells = re.sub(r"\(\s*[\d.]+%\)", " ", line[:-len("PROGRAM TOTALS")])
            nums = [0 if c == "." else int(c.replace(",", ""))
                    for c in cells.split()]
            if events is None or len(nums) != len(events):
                fail("totals %r for events %r" % (nums, events))
            return dict(zip(events, nums))
    fail("callgrind_annotate printed no PROGRAM TOTALS:\n" + out)


def check_cgcats(path, exp):
    """callgrind_annotate parses the file; its totals per event are EXP's.
    With several parts it reports the last part alone, so for a parts file
    EXP is {"events": [...]}: the events it must list."""
    totals = annotate_totals(path)
    if "events" in exp:
        expect_eq("callgrind_annotate events", sorted(totals),
                  sorted(exp["events"]))
    else:
        expect_eq("callgrind_annotate totals", totals, exp)


class PageParser(html.parser.HTMLParser):
    """What a browser would see of report.html: its elements' references,
    its scripts with their text, its styles and its policy."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.scripts, self.styles, self.refs = [], 0, []
        self.csp, self.current = None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k in ("src", "href", "action", "formaction", "poster", "srcset"):
            if k in a:
                self.refs.append((tag, k, a[k]))
        if (tag == "meta" and
                (a.get("http-equiv") or "").lower() == "content-security-policy"):
            self.csp = a.get("content")
        if tag == "script":
            self.current = {"attrs": a, "text": []}
            self.scripts.append(self.current)
        elif tag == "style":
            self.styles += 1

    def handle_endtag(self, tag):
        if tag == "script":
            self.current = None

    def handle_data(self, data):
        if self.current is not None:
            self.current["text"].append(data)


def check_html(path, exp, json_path=None):
    with open(path, encoding="utf-8") as f:
        page = f.read()
    parser = PageParser()
    parser.feed(page)
    parser.close()
    if parser.refs:
        fail("the page refers to other files: %r" % parser.refs)
    if not parser.csp or "default-src 'none'" not in parser.csp:
        fail("no Content-Security-Policy default-src 'none': %r" % parser.csp)
    expect_eq("style elements", parser.styles, 1)
    # A name that closed the data element would start scripts of its own.
    kinds = [(sc["attrs"].get("type"), sc["attrs"].get("id"))
             for sc in parser.scripts]
    expect_eq("script elements", kinds,
              [("application/json", "mpprof-data"), (None, None)])
    text = "".join(parser.scripts[0]["text"])
    if "<" in text:
        fail("a '<' in the data element: a name could end it")
    try:
        doc = json.loads(text)
    except ValueError as e:
        fail("the data element is not JSON: %s" % e)
    has_keys("page data", doc, {"report", "model"})
    rep, model = doc["report"], doc["model"]
    check_report_doc(rep, exp.get("report", {}))
    # compare --html: the compare --json document and the baseline's report.
    if ("compare" in doc) != ("compare" in exp):
        fail("compare in the page: %r, expected: %r" % ("compare" in doc,
                                                        "compare" in exp))
    if "compare" in exp:
        check_compare_doc(doc["compare"], exp["compare"])
        has_keys("baseline", doc["baseline"], {"report"})
        check_report_doc(doc["baseline"]["report"], exp.get("baseline", {}))
    if json_path is not None:
        with open(json_path, "rb") as f:
            expect_eq("the page's report and report --json", rep,
                      json.loads(f.read()))
    has_keys("model", model, {"wall_us", "cats", "funcs", "procs",
                              "functions_limit", "spans_dropped",
                              "rows_dropped"})
    funcs, ncats = model["funcs"], len(model["cats"])
    for fn in funcs:
        if (len(fn) != 4 or not isinstance(fn[0], str) or
                not isinstance(fn[1], int) or not isinstance(fn[2], str) or
                not -1 <= fn[3] < ncats):
            fail("bad function %r" % (fn,))
    expect_eq("processes in the report's order",
              [p["pid"] for p in model["procs"]],
              [p["pid"] for p in rep["processes"]])
    spans_us, kept, shortest = {}, 0, None
    for i, p in enumerate(model["procs"]):
        has_keys("model process", p, {"pid", "ppid", "parent", "name",
                                      "start_us", "wall_us", "exit",
                                      "threads", "stats", "edges",
                                      "roots"})
        if not -1 <= p["parent"] < len(model["procs"]) or p["parent"] == i:
            fail("bad parent in %r" % p["parent"])
        if p["parent"] >= 0:
            expect_eq("parent pid", model["procs"][p["parent"]]["pid"],
                      p["ppid"])
        if len(p["stats"]) % 4 or len(p["edges"]) % 3 or len(p["roots"]) % 2:
            fail("stats, edges or roots not in fours, threes, twos")
        for k in range(0, len(p["stats"]), 4):
            if not 0 <= p["stats"][k] < len(funcs):
                fail("stat of no function: %r" % p["stats"][k])
        for k in range(0, len(p["roots"]), 2):
            if not 0 <= p["roots"][k] < len(funcs) or p["roots"][k + 1] <= 0:
                fail("bad root %r" % p["roots"][k:k + 2])
        for k in range(0, len(p["edges"]), 3):
            if not (0 <= p["edges"][k] < len(funcs) and
                    0 <= p["edges"][k + 1] < len(funcs)):
                fail("edge of no function")
        for t in p["threads"]:
            sp = t["spans"]
            if len(sp) % 5:
                fail("spans not in fives")
            for k in range(0, len(sp), 5):
                cat, fn, dur = sp[k], sp[k + 1], sp[k + 3]
                if not 0 <= cat < ncats or not -1 <= fn < len(funcs):
                    fail("bad span %r" % sp[k:k + 5])
                name = model["cats"][cat]
                spans_us[name] = spans_us.get(name, 0) + dur
                kept += 1
                shortest = dur if shortest is None else min(shortest, dur)
    names = {fn[2] for fn in funcs}
    for name in exp.get("names", []):
        if name not in names:
            fail("function %r is not in the page" % name)
        if name not in {fn["name"] for fn in rep["functions"]}:
            fail("function %r is not in the page's table" % name)
    if "spans_us" in exp:
        expect_eq("span time per category", spans_us, exp["spans_us"])
    used = set()
    for p in model["procs"]:
        used.update(p["stats"][0::4])
        used.update(p["edges"][0::3])
        used.update(p["edges"][1::3])
        used.update(p["roots"][0::2])
        for t in p["threads"]:
            used.update(f for f in t["spans"][1::5] if f >= 0)
    expect_eq("functions the model uses", used, set(range(len(funcs))))
    if "roots" in exp:
        got = {}
        for p in model["procs"]:
            r = p["roots"]
            got[str(p["pid"])] = {funcs[r[k]][2]: r[k + 1]
                                  for k in range(0, len(r), 2)}
        expect_eq("roots", got, exp["roots"])
    # "edges": {pid: {"caller>callee": us}}: a process's edges, summed
    # over its threads, exactly.
    for pid, want in exp.get("edges", {}).items():
        p = [q for q in model["procs"] if str(q["pid"]) == pid]
        if len(p) != 1:
            fail("no single process %s" % pid)
        e = p[0]["edges"]
        got = {}
        for k in range(0, len(e), 3):
            key = "%s>%s" % (funcs[e[k]][2], funcs[e[k + 1]][2])
            if key in got:
                fail("edge %s twice in process %s" % (key, pid))
            got[key] = e[k + 2]
        expect_eq("edges of %s" % pid, got, want)
    if "rows_kept" in exp:
        rows = sum(len(p["stats"]) // 4 + len(p["edges"]) // 3 +
                   len(p["roots"]) // 2 for p in model["procs"])
        expect_eq("rows kept", rows, exp["rows_kept"])
        expect_eq("rows dropped", model["rows_dropped"], exp["rows_dropped"])
    if "spans_kept" in exp:
        expect_eq("spans kept", kept, exp["spans_kept"])
        expect_eq("spans dropped", model["spans_dropped"],
                  exp["spans_dropped"])
        expect_eq("shortest span kept", shortest, exp["shortest_us"])


def main(argv):
    kind, path = argv[1], argv[2]
    try:
        if kind == "pstats":
            check_pstats(path,
                         None if argv[3] == "-" else load_expect(argv[3]),
                         argv[4] if len(argv) > 4 else None)
        elif kind in ("callgrind", "parts"):
            check_callgrind(path, load_expect(argv[3]), kind == "parts")
        elif kind == "json":
            check_json(path, load_expect(argv[3]))
        elif kind == "text":
            check_text(path, argv[3])
        elif kind == "compare":
            check_compare(path, load_expect(argv[3]))
        elif kind == "trace":
            check_trace(path, load_expect(argv[3]))
        elif kind == "html":
            check_html(path, load_expect(argv[3]),
                       argv[4] if len(argv) > 4 else None)
        elif kind == "cgcats":
            check_cgcats(path, load_expect(argv[3]))
        else:
            fail("unknown kind %r" % kind)
    except CheckError as e:
        print("check_writers %s %s: %s" % (kind, path, e), file=sys.stderr)
        return 1
    except Skipped as e:
        # The C test turns this status into a skip that ctest reports.
        print("check_writers %s %s: SKIPPED: %s" % (kind, path, e),
              file=sys.stderr)
        return SKIP_STATUS
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
