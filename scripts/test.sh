#!/usr/bin/env bash
# The whole test suite in one command: install what is missing, build, and
# run every test with ctest (unit, integration, fuzz replay), then the C
# unit tests again under ASan+UBSan and under valgrind.
#
# MPPROF_QUICK=1 skips the sanitizer and valgrind passes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

status=0
BUILD_DIR=build scripts/build.sh
echo "== ctest: all tests (build/)"
(cd build && ctest --output-on-failure -j2 --timeout 900) || status=1

if [ "${MPPROF_QUICK:-0}" != 1 ]; then
    echo "== ctest: all tests under ASan+UBSan (build-asan/)"
    BUILD_DIR=build-asan scripts/build.sh -DMPPROF_SANITIZE=ON
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1 \
        ctest --output-on-failure -j2 -L 'unit|fuzz') || status=1

    echo "== valgrind: C unit tests"
    for t in build/test_*; do
        [ -x "$t" ] || continue
        valgrind -q --error-exitcode=42 --leak-check=full \
            --errors-for-leak-kinds=definite "$t" >/dev/null 2>&1 || {
            echo "valgrind: $t failed"; status=1; }
    done
fi
exit $status
