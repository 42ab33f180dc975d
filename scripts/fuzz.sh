#!/bin/sh
# Fuzzes the wire decoder and the session file reader with libFuzzer.
#
#     scripts/fuzz.sh [SECONDS]        (default 300 per target)
#
# Configures a clang build with -DMPPROF_FUZZ=ON in build-fuzz/ (or
# $MPPROF_FUZZ_BUILD), builds fuzz_wire and fuzz_sessfile, and runs each
# for SECONDS on a copy of its seed corpus, so the repository is never
# written to.  Exits non-zero if a target crashed, leaked, hit undefined
# behaviour or broke its round-trip property; the reproducer is left in
# build-fuzz/fuzz/<target>/artifacts/ and replays with
#     build-fuzz/tests/fuzz/fuzz_<target> <file>
set -eu

secs=${1:-300}
case $secs in
    '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
build=${MPPROF_FUZZ_BUILD:-$root/build-fuzz}
cc=${CC:-clang}

cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER="$cc" -DMPPROF_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target fuzz_wire fuzz_sessfile -j2

status=0
for t in wire sessfile; do
    work=$build/fuzz/$t
    rm -rf "$work/corpus"
    mkdir -p "$work/corpus" "$work/artifacts"
    cp "$root/tests/fuzz/corpus/$t"/* "$work/corpus/"
    echo "== fuzz_$t for ${secs}s" >&2
    if ! "$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 \
        -dict="$root/tests/fuzz/$t.dict" \
        -artifact_prefix="$work/artifacts/" "$work/corpus"; then
        echo "fuzz.sh: fuzz_$t failed; reproducer in $work/artifacts/" >&2
        status=1
    fi
done
exit $status
