#!/bin/sh
# Fuzzes mpprof's parsers with libFuzzer: every fuzz target that
# tests/fuzz defines (fuzz_wire, fuzz_sessfile, fuzz_ingest, ...).
#
#     scripts/fuzz.sh [SECONDS] [TARGET...]   (default 300 s each, all targets)
#
# Configures a clang build with -DMPPROF_FUZZ=ON in build-fuzz/ (or
# $MPPROF_FUZZ_BUILD), builds fuzz_all, and runs each target for SECONDS
# on a copy of its seed corpus (tests/fuzz/corpus/NAME), with its
# dictionary (tests/fuzz/NAME.dict) when there is one and the memory
# limits its short ctest run uses (tests/fuzz/CMakeLists.txt), so the
# repository is never written to.  Exits non-zero if a target crashed,
# leaked, hit undefined behaviour, broke its property or its memory cap;
# the reproducer is left in build-fuzz/fuzz/NAME/artifacts/ and replays
# with build-fuzz/tests/fuzz/fuzz_NAME FILE.
set -eu

secs=${1:-300}
case $secs in
    '' | *[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac
[ $# -gt 0 ] && shift
root=$(cd "$(dirname "$0")/.." && pwd)
build=${MPPROF_FUZZ_BUILD:-$root/build-fuzz}
cc=${CC:-clang}

cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER="$cc" -DMPPROF_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target fuzz_all -j2

if [ $# -eq 0 ]; then
    for f in "$build"/tests/fuzz/fuzz_*; do
        [ -x "$f" ] && set -- "$@" "${f##*/fuzz_}"
    done
fi
[ $# -gt 0 ] || { echo "fuzz.sh: no fuzz target was built" >&2; exit 1; }

status=0
for t in "$@"; do
    bin=$build/tests/fuzz/fuzz_$t
    [ -x "$bin" ] || { echo "fuzz.sh: no target fuzz_$t" >&2; status=1; continue; }
    work=$build/fuzz/$t
    rm -rf "$work/corpus"
    mkdir -p "$work/corpus" "$work/artifacts"
    if [ -d "$root/tests/fuzz/corpus/$t" ]; then
        cp "$root/tests/fuzz/corpus/$t"/* "$work/corpus/"
    fi
    # The limits of the target's short run under ctest, else 2 GiB RSS.
    limits=$(cd "$build" && ctest -N -V -R "^fuzz\.short_$t\$" 2>/dev/null |
             grep -o -e '-rss_limit_mb=[0-9]*' -e '-malloc_limit_mb=[0-9]*' \
                     -e '-max_len=[0-9]*' | sort -u | tr '\n' ' ')
    [ -n "$limits" ] || limits=-rss_limit_mb=2048
    dict=
    [ -f "$root/tests/fuzz/$t.dict" ] && dict=-dict=$root/tests/fuzz/$t.dict
    echo "== fuzz_$t for ${secs}s ($limits)" >&2
    # shellcheck disable=SC2086
    if ! "$bin" -max_total_time="$secs" -timeout=10 $limits \
        -print_final_stats=1 $dict \
        -artifact_prefix="$work/artifacts/" "$work/corpus"; then
        echo "fuzz.sh: fuzz_$t failed; reproducer in $work/artifacts/" >&2
        status=1
    fi
done
exit $status
