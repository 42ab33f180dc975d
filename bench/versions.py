#!/usr/bin/env python3
"""The speed figures of bench.py for every Python this machine can find.

    bench/versions.py [--sections "overhead callgrind"] [--rounds N] [ROOT ...]

Runs bench.py's sections (default: overhead and callgrind, the figures of
issue 11's acceptance 4) once with the host's python3 (build/mpprof) and
once per Python of each Debian root (scripts/mkroot.sh; default: every root
under build-roots/ that exists, as scripts/matrix.sh leaves them).  In a
root, the checkout's tracked files are copied to ROOT/bench-src and built
once per Python (build-3.X, -DPython3_EXECUTABLE=/usr/bin/python3.X,
rebuilt when the tree changed);
every python3.X binary there counts (its -dev package is installed into
the root when missing).  Roots need root
(chroot).

Each Python's run is bench.py's own alternating run, so every ratio compares
sides measured in turns on the same interpreter; the table at the end
gathers every figure that has a target, per Python, and the exit status is
1 when any of them failed.  Standard library only.
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
MKROOT = os.path.join(TOP, "scripts", "mkroot.sh")


def copy_tree(root):
    """The checkout's tracked files into ROOT/bench-src (builds kept)."""
    dst = os.path.join(root, "bench-src")
    os.makedirs(dst, exist_ok=True)
    files = subprocess.run(["git", "ls-files", "-z"], cwd=TOP, check=True,
                           capture_output=True).stdout
    tar = subprocess.Popen(["tar", "--null", "-T", "-", "-cf", "-"], cwd=TOP,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    untar = subprocess.Popen(["tar", "-xf", "-", "-C", dst], stdin=tar.stdout)
    tar.stdout.close()
    tar.stdin.write(files)
    tar.stdin.close()
    if tar.wait() != 0 or untar.wait() != 0:
        raise SystemExit("versions.py: could not copy the tree into %s" % dst)


def add_headers(root, versions):
    """python3.X-dev, from the root's apt, for every python3.X binary of
    ROOT that lacks its headers and every version asked for (sid's 3.13
    beside 3.14 and 3.15); one at a time, since a suite need not have
    them all."""
    want = set(versions)
    for exe in glob.glob(os.path.join(root, "usr/bin/python3.*")):
        v = os.path.basename(exe)[len("python"):]
        if v.replace(".", "").isdigit():
            want.add(v)
    updated = False
    for v in sorted(want):
        if os.path.exists(os.path.join(root, "usr/include/python%s/Python.h"
                                       % v)):
            continue
        if not updated:
            # A root fresh from mmdebstrap has no package lists yet.
            subprocess.run([MKROOT, "--run", root, "apt-get", "update",
                            "-qq"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            updated = True
        subprocess.run([MKROOT, "--run", root, "env",
                        "DEBIAN_FRONTEND=noninteractive", "apt-get",
                        "install", "-y", "-qq", "--no-install-recommends",
                        "python%s-dev" % v], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


def root_pythons(root):
    found = []
    for inc in sorted(glob.glob(os.path.join(root, "usr/include/python3.*"))):
        v = os.path.basename(inc)[len("python"):]
        if (os.path.exists(os.path.join(inc, "Python.h")) and
                os.access(os.path.join(root, "usr/bin/python" + v), os.X_OK)):
            found.append(v)
    return sorted(found, key=lambda v: tuple(int(x) for x in v.split(".")))


def bench_args(args, json_path):
    a = ["--json", json_path, "--rounds", str(args.rounds)]
    if args.quick:
        a.append("--quick")
    return a + args.sections.split()


def run_host(args, out):
    py = shutil.which("python3")
    mpprof = os.path.join(TOP, "build", "mpprof")
    if not os.access(mpprof, os.X_OK):
        print("versions.py: no build/mpprof for the host; skipped")
        return None
    path = os.path.join(out, "host.json")
    cmd = [sys.executable, os.path.join(HERE, "bench.py"),
           "--mpprof", mpprof] + bench_args(args, path)
    print("== host: %s" % " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=TOP)
    return path if os.path.exists(path) else None


def run_root(args, root, v):
    """bench.py for /usr/bin/python3.V inside ROOT; its JSON's path on the
    host, or None."""
    name = "bench-%s.json" % v
    inner = (
        "cd /bench-src && "
        "bash scripts/deps.sh --test >/dev/null && "
        "BUILD_DIR=build-%(v)s scripts/build.sh "
        "-DPython3_EXECUTABLE=/usr/bin/python%(v)s >/dev/null && "
        "python%(v)s bench/bench.py --python /usr/bin/python%(v)s "
        "--mpprof build-%(v)s/mpprof %(rest)s"
    ) % {"v": v, "rest": " ".join(bench_args(args, "/bench-src/" + name))}
    print("== %s: python%s" % (root, v), flush=True)
    subprocess.run([MKROOT, "--run", root, "bash", "-c", inner])
    path = os.path.join(root, "bench-src", name)
    return path if os.path.exists(path) else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("roots", nargs="*", metavar="ROOT")
    ap.add_argument("--sections", default="overhead callgrind")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-host", action="store_true")
    ap.add_argument("--pythons", default="3.13 3.14 3.15",
                    help="versions to install into the roots where their "
                    "suite has them (default: %(default)s)")
    args = ap.parse_args()
    roots = args.roots or sorted(
        d for d in glob.glob(os.path.join(TOP, "build-roots", "*"))
        if os.path.exists(os.path.join(d, "bin", "sh")))
    if roots and os.getuid() != 0:
        raise SystemExit("versions.py: roots need root (chroot)")
    results = []  # (label, json path or None)
    with tempfile.TemporaryDirectory(prefix="mpprof-versions-") as out:
        if not args.no_host:
            results.append(("host python3", run_host(args, out)))
        for root in roots:
            copy_tree(root)
            add_headers(root, args.pythons.split())
            for v in root_pythons(root):
                label = "python%s (%s)" % (v, os.path.basename(root))
                results.append((label, run_root(args, root, v)))
        bad = False
        print("\n== every Python: figures with a target")
        for label, path in results:
            if path is None:
                print("%-26s no results (the run failed)" % label)
                bad = True
                continue
            with open(path) as f:
                doc = json.load(f)
            for sec in doc.values():
                for row in sec.get("figures", []):
                    if row["status"] in ("PASS", "FAIL"):
                        print("%-26s %-62s %-22s %-8s %s" % (
                            label, row["figure"], row["value"],
                            row["target"], row["status"]))
                        bad |= row["status"] == "FAIL"
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
