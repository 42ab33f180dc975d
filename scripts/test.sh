#!/usr/bin/env bash
# The whole test suite in one command: install what is missing, build, and
# run every test under ASan+UBSan, the C unit tests under valgrind and,
# when clang is there, a short libFuzzer run of the two parsers; then every
# test once more in the normal build, whose ctest summary closes the run.
#
# MPPROF_QUICK=1 skips the sanitizer, valgrind and libFuzzer passes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

status=0
started=$SECONDS
stage() { echo "== $* ($((SECONDS - started)) s so far)"; }

BUILD_DIR=build scripts/build.sh

if [ "${MPPROF_QUICK:-0}" != 1 ]; then
    # Unit, fuzz and single-process integration tests: the integration
    # tests get LD_PRELOAD of libasan and detect_leaks=0 from CMakeLists.txt
    # (python is not instrumented), so the detect_leaks=1 below applies to
    # the unit and fuzz tests and to the launcher in launcher_leaks.
    stage "ctest: unit, fuzz and single-process tests under ASan+UBSan (build-asan/)"
    BUILD_DIR=build-asan scripts/build.sh -DMPPROF_SANITIZE=ON
    # The suites whose Python forks while the collector's ZeroMQ threads
    # run stay out of this pass: GCC 12's libasan, preloaded into a Python
    # that is not built with it, takes no allocator lock around fork, so a
    # child can deadlock in the sanitizer itself.  They run in the normal
    # pass below; here the instrumented launcher, aggregator, decoder,
    # writers and collector run the single-process suites.
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1 \
        ctest --output-on-failure -j2 --timeout 900 \
            -E 'test_(collector|multiproc|categories|reliability|compare)$') \
        || status=1

    stage "valgrind: C unit tests"
    for t in build/test_*; do
        [ -x "$t" ] || continue
        valgrind -q --error-exitcode=42 --leak-check=full \
            --errors-for-leak-kinds=definite "$t" >/dev/null 2>&1 || {
            echo "valgrind: $t failed"; status=1; }
    done

    # The fuzz build's ctest entries fuzz each parser for 15 s on a copy
    # of its seed corpus (scripts/fuzz.sh runs the long campaigns).
    if command -v clang >/dev/null 2>&1; then
        stage "libFuzzer: short runs (build-fuzz/)"
        fuzz=${MPPROF_FUZZ_BUILD:-build-fuzz}
        if cmake -S . -B "$fuzz" -DCMAKE_C_COMPILER=clang -DMPPROF_FUZZ=ON \
                -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
            cmake --build "$fuzz" -j2 --target fuzz_wire fuzz_sessfile \
                replay_wire replay_sessfile; then
            (cd "$fuzz" && ctest --output-on-failure -j2 -L fuzz) || status=1
        else
            echo "libFuzzer: the clang build failed"
            status=1
        fi
    else
        stage "libFuzzer: skipped (no clang)"
    fi
fi
# The main suite runs last, so its ctest summary is the run's closing line.
stage "ctest: all tests (build/)"
(cd build && ctest --output-on-failure -j2 --timeout 900) || status=1
stage "done: $([ $status = 0 ] && echo all passed || echo FAILURES)"
exit $status
