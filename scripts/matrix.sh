#!/usr/bin/env bash
# The interpreter matrix, in Debian roots built with scripts/mkroot.sh:
#
#  1. Debian 13 (python3 = 3.13), as a new user meets it: a root built
#     afresh on every run, where the README's two commands run as
#     written (scripts/quickstart.sh, then scripts/test.sh in its quick
#     form, MPPROF_QUICK=1: the normal suite; the sanitizer, valgrind
#     and libFuzzer passes test the same C code on the host).
#  2. Debian sid, for the Pythons Debian 13 does not have (3.14 and 3.15
#     today): one root, one install of the build dependencies, then one
#     build directory per Python (build-3.14, ...), each configured with
#     -DPython3_EXECUTABLE=/usr/bin/python3.X, so the collector, the
#     launcher and every test use that interpreter.
#
#     scripts/matrix.sh [SID_ROOT]     (default SID_ROOT: build-roots/sid)
#
# The sid root is reused when it exists (its packages are only topped
# up); the Debian 13 one never is.  The tree tested is this checkout's
# tracked files, copied to ROOT/src.  Needs root (chroot, bind mounts)
# and the Debian archive of the host's apt sources.
#
# MPPROF_MATRIX_PARTS picks the parts (default "trixie sid");
# MPPROF_MATRIX_PYTHONS the sid Pythons (default "3.14 3.15").
#
# The closing lines, one per part and Python, read "matrix: ..." with
# ctest's closing line; the exit status is 1 when any of them failed.
set -uo pipefail
cd "$(dirname "$0")/.."

root=${1:-build-roots/sid}
case $root in /*) ;; *) root=$PWD/$root ;; esac
versions=${MPPROF_MATRIX_PYTHONS:-3.14 3.15}
parts=" ${MPPROF_MATRIX_PARTS:-trixie sid} "

die() { echo "matrix.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (chroot and bind mounts)"

# The checkout's tracked files (a fresh clone's tree, whatever else lies
# around in this one), or everything but build directories without git,
# into ROOT/src.
copy_tree() {
    rm -rf "$1/src"
    mkdir -p "$1/src"
    if git rev-parse --git-dir >/dev/null 2>&1; then
        git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$1/src"
    else
        tar --exclude='./build*' -cf - . | tar -xf - -C "$1/src"
    fi
}

# True when nothing is mounted at or under DIR: only then may it go.
unmounted() {
    ! awk -v d="$1" '$2 == d || index($2, d "/") == 1 { f = 1 }
                     END { exit !f }' /proc/self/mounts
}

summary=()
bad=0
started=$SECONDS

if [ "${parts#* trixie }" != "$parts" ]; then
    # A fresh root under build-roots/, gone again at the end (kept when
    # the part failed, to look into).
    mkdir -p build-roots
    fresh=$(mktemp -d "$PWD/build-roots/trixie.XXXXXX")
    if scripts/mkroot.sh trixie "$fresh"; then
        copy_tree "$fresh"
        echo "== matrix: Debian 13, the README's two commands ($fresh)"
        log=$fresh/readme.log
        scripts/mkroot.sh --run "$fresh" env MPPROF_MATRIX=0 bash -c '
            cd /src && bash scripts/quickstart.sh && python3 --version &&
            MPPROF_QUICK=1 bash scripts/test.sh
        ' 2>&1 | tee "$log"
        rc=${PIPESTATUS[0]}
        line=$(grep -E "tests passed|tests failed" "$log" | tail -n 1)
        py=$(grep -m1 '^Python 3' "$log")
        summary+=("matrix: Debian 13 ${py:-python3}: ${line:-no ctest summary} (status $rc)")
        if [ "$rc" -eq 0 ] && unmounted "$fresh"; then
            rm -rf "$fresh"
        elif [ "$rc" -ne 0 ]; then
            bad=1
        fi
    else
        summary+=("matrix: Debian 13: could not build the root")
        bad=1
    fi
fi

if [ "${parts#* sid }" = "$parts" ]; then
    echo
    printf "%s\n" "${summary[@]}"
    echo "matrix.sh: $((SECONDS - started)) s"
    exit $bad
fi

if [ ! -x "$root/bin/sh" ]; then
    if ! scripts/mkroot.sh sid "$root"; then
        printf "%s\n" "${summary[@]}" "matrix: sid: could not build the root"
        exit 1
    fi
fi
copy_tree "$root"

# Inside the root: the dependencies once (the -dev package of every
# Python asked for that sid has), then a build and a suite per Python.
# A Python sid does not ship is reported and counted as a failure, so a
# matrix that silently shrinks cannot pass.
inner='
set -uo pipefail
cd /src
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || exit 1
want=()
for v in $VERSIONS; do
    if [ -n "$(apt-cache policy "python$v-dev" 2>/dev/null |
               awk "/Candidate:/ && \$2 != \"(none)\" { print \$2 }")" ]; then
        want+=("python$v-dev")
    fi
done
[ ${#want[@]} -eq 0 ] ||
    apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null ||
    exit 1
bash scripts/deps.sh --test || exit 1
bad=0
summary=()
for v in $VERSIONS; do
    py=/usr/bin/python$v
    if [ ! -x "$py" ] || [ ! -e "/usr/include/python$v/Python.h" ]; then
        summary+=("matrix: python$v: not available in this root")
        bad=1
        continue
    fi
    echo "== matrix: python$v (build-$v/)"
    if ! BUILD_DIR=build-$v scripts/build.sh -DPython3_EXECUTABLE=$py; then
        summary+=("matrix: python$v: the build failed")
        bad=1
        continue
    fi
    log=build-$v/ctest.log
    (cd build-$v && ctest --output-on-failure -j2 --timeout 900) 2>&1 |
        tee "$log"
    rc=${PIPESTATUS[0]}
    line=$(grep -E "tests passed|tests failed" "$log" | tail -n 1)
    summary+=("matrix: python$v: ${line:-no ctest summary} (status $rc)")
    [ "$rc" -eq 0 ] || bad=1
done
echo
printf "%s\n" "${summary[@]}"
exit $bad
'
rc=0
scripts/mkroot.sh --run "$root" env VERSIONS="$versions" bash -c "$inner" ||
    rc=$?
printf "%s\n" "${summary[@]}"
echo "matrix.sh: $((SECONDS - started)) s"
[ $bad -eq 0 ] || exit 1
exit $rc
