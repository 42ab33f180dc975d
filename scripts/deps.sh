#!/usr/bin/env bash
# Installs what building and testing mpprof needs, from Debian/Ubuntu
# packages only, and only what is missing.  Safe to run repeatedly.
#
# Works on a fresh machine, whose apt lists may be empty: as soon as
# anything is missing the lists are refreshed first, and only then are
# package names chosen, from what the running release has (msgpack-c is
# libmsgpack-dev on Debian 12, libmsgpack-c-dev on Debian 13, sid and
# Ubuntu 24.04; clang's sanitizer and libFuzzer runtimes come with
# libclang-rt-dev, or libclang-rt-N-dev for clang N, which clang only
# recommends).  What is checked is what the build uses: headers and
# pkg-config files, and clang's ability to link a libFuzzer target.
set -euo pipefail

# Packages needed whatever the release; each is checked with dpkg.
base=(build-essential cmake pkg-config libzmq3-dev python3 python3-dev
      valgrind clang)
# With --test, the real programs the suite profiles as well (joblib's
# loky backend, for Debian's own python3), and the browser that opens
# report.html (test_html.py renders it in headless Chromium), and IPython
# with a Jupyter kernel (test_magic.py runs the %%mpprof magic in both),
# and the multi-host suites' launchers (test_hosts.py: OpenMPI's mpirun
# with mpi4py; test_netns.py: a Dask distributed cluster across network
# namespaces made with iproute2's `ip netns`).
if [ "${1:-}" = "--test" ]; then
    base+=(python3-joblib chromium python3-ipython python3-ipykernel
           python3-jupyter-client openmpi-bin python3-mpi4py
           python3-distributed iproute2)
fi

missing=()
for p in "${base[@]}"; do
    case $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) in
        *" installed") ;;
        *) missing+=("$p") ;;
    esac
done

need_msgpack=0
if ! pkg-config --exists msgpack-c 2>/dev/null &&
   ! pkg-config --exists msgpack 2>/dev/null; then
    need_msgpack=1
fi

# clang links libFuzzer targets and ASan (static and shared runtime).
clang_rt_ok() {
    command -v clang >/dev/null 2>&1 || return 1
    local tmp rc=0
    tmp=$(mktemp -d)
    printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n)\n%s\n' \
        '{ (void)d; (void)n; return 0; }' >"$tmp/f.c"
    clang -fsanitize=fuzzer,address,undefined "$tmp/f.c" -o "$tmp/f" \
        >/dev/null 2>&1 || rc=1
    case $(clang -print-file-name=libclang_rt.asan-x86_64.so) in
        /*) ;;
        *) rc=1 ;;
    esac
    rm -rf "$tmp"
    return $rc
}
need_clang_rt=0
clang_rt_ok || need_clang_rt=1

if [ ${#missing[@]} -eq 0 ] && [ $need_msgpack = 0 ] && [ $need_clang_rt = 0 ]
then
    exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
echo "mpprof: refreshing apt lists" >&2
$sudo apt-get update -qq

# Does the running release have a package of this name (with a candidate)?
have_pkg() {
    local cand
    cand=$(apt-cache policy "$1" 2>/dev/null |
           awk '/Candidate:/ { print $2; exit }')
    [ -n "$cand" ] && [ "$cand" != "(none)" ]
}

if [ $need_msgpack = 1 ]; then
    if have_pkg libmsgpack-c-dev; then
        missing+=(libmsgpack-c-dev)
    else
        missing+=(libmsgpack-dev)
    fi
fi

apt_install() {
    [ $# -gt 0 ] || return 0
    echo "mpprof: installing $*" >&2
    $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
apt_install "${missing[@]}"

# The runtime that matches the clang now installed (libclang-rt-N-dev
# for clang N), else the release's default one.
if [ $need_clang_rt = 1 ] && ! clang_rt_ok; then
    ver=$(clang -dumpversion 2>/dev/null | cut -d. -f1)
    rt=()
    if [ -n "$ver" ] && have_pkg "libclang-rt-$ver-dev"; then
        rt=("libclang-rt-$ver-dev")
    elif have_pkg libclang-rt-dev; then
        rt=(libclang-rt-dev)
    fi
    apt_install "${rt[@]}"
    if ! clang_rt_ok; then
        echo "mpprof: clang cannot link libFuzzer/ASan targets" \
             "(no libclang_rt for clang $ver); the fuzz stage will fail" >&2
    fi
fi
