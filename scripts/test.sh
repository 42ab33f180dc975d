#!/usr/bin/env bash
# The whole test suite in one command: install what is missing, build, and
# run every test under ASan+UBSan (the multi-process suites included), the
# C unit tests under valgrind, a short libFuzzer run of every fuzz target;
# then every test once more in the normal build, whose ctest summary,
# followed by the verdict line, closes the run.
#
# A stage that fails says so at once ("!! FAILED: ...") and the run goes
# on; the verdict names every failed stage and the exit status is 1.
#
# MPPROF_QUICK=1 skips the sanitizer, valgrind and libFuzzer passes.
#
# MPPROF_MATRIX=1 runs the interpreter matrix too (scripts/matrix.sh, as
# root): the README's two commands in a fresh Debian 13 root (Python
# 3.13), and the normal suite once per Python of a Debian sid root (3.14,
# 3.15).  It is on by default in CI (CI=true, as root), where it adds
# about 13 minutes on a 2-CPU machine; MPPROF_MATRIX=0 turns it off.
# MPPROF_MATRIX_ROOT names the sid root (default build-roots/sid, reused
# when it exists).
set -uo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
failed=()
stage() { echo; echo "== $* ($((SECONDS - started)) s so far)"; }
fail() { echo "!! FAILED: $*"; failed+=("$*"); }
verdict() {
    local what="" f
    if [ ${#failed[@]} -eq 0 ]; then
        echo "== done in $((SECONDS - started)) s: all passed"
        return 0
    fi
    for f in "${failed[@]}"; do what="$what${what:+; }$f"; done
    echo "== done in $((SECONDS - started)) s: FAILURES in $what"
    return 1
}

scripts/deps.sh --test || fail "deps.sh (installing what is missing)"

stage "build (build/)"
if ! BUILD_DIR=build scripts/build.sh; then
    fail "the build (build/)"
    verdict
    exit 1
fi

if [ "${MPPROF_QUICK:-0}" != 1 ]; then
    # Every test under ASan+UBSan.  clang when there is one: every binary
    # then shares clang's shared ASan runtime, which the integration tests
    # preload into the (uninstrumented) Pythons, behind asan_fork_guard so
    # that the suites whose Pythons fork from threads cannot hang in the
    # runtime (tests/integration/CMakeLists.txt).  detect_leaks=1 below
    # applies to the unit and fuzz tests and to the launcher in
    # launcher_leaks; the Pythons get detect_leaks=0 from CMakeLists.txt.
    # The C test runner's per-test limit (MPP_TEST_TIMEOUT, 60 s) is for
    # plain builds: instrumented tests get more, here and under valgrind.
    stage "ctest: every test under ASan+UBSan (build-asan/)"
    cc=()
    if command -v clang >/dev/null 2>&1; then
        cc=(-DCMAKE_C_COMPILER=clang)
    fi
    if BUILD_DIR=build-asan scripts/build.sh "${cc[@]}" -DMPPROF_SANITIZE=ON
    then
        echo "ASan pass: every test but those labelled 'timing' (calibrated" \
             "delays within 10%, which ASan's slowdown alone exceeds):" \
             "$(cd build-asan && ctest -N -L timing | grep -o 'integration\.[a-z_]*' |
                tr '\n' ' ')run in the normal pass below"
        (cd build-asan && ASAN_OPTIONS=detect_leaks=1 MPP_TEST_TIMEOUT=240 \
            ctest --output-on-failure -j2 --timeout 900 -LE timing) ||
            fail "ctest under ASan+UBSan (build-asan/)"
    else
        fail "the ASan+UBSan build (build-asan/)"
    fi

    # Two at a time.  Tests that loop over thousands of inputs take
    # minutes under valgrind: they are left out here (and named), since
    # the ASan pass above runs them.  MPPROF_VALGRIND_SKIP lists them as
    # BINARY:TEST words.
    stage "valgrind: C unit tests"
    # test_agent and test_agent_end (BINARY:* is every test of one) fork
    # writers that race the agent thread with timeouts valgrind's slowdown
    # breaks; ASan runs them above.
    vskip=" ${MPPROF_VALGRIND_SKIP-test_sessfile:corruption_never_crashes test_agent:* test_agent_end:*} "
    vrun() {
        local t=$1 base=${1##*/} n names=() out=() rc=0
        for n in $("$t" --list); do
            case $vskip in
                *" $base:$n "* | *" $base:* "*) out+=("$n") ;;
                *) names+=("$n") ;;
            esac
        done
        [ ${#out[@]} -eq 0 ] ||
            echo "valgrind: $base leaves out ${out[*]} (run under ASan above)"
        if [ ${#names[@]} -eq 0 ]; then
            [ ${#out[@]} -gt 0 ] && return 0
        fi
        # test_agent's writers are forked from a process whose agent
        # thread holds a ZeroMQ context: the child inherits its memory but
        # not the threads that point to it, so valgrind would call it lost
        # in every child.  The children are scaffolding there; what the
        # test checks runs in the parent.
        local child=()
        case " ${MPPROF_VALGRIND_CHILD_SILENT-test_agent test_agent_end} " in
            *" $base "*) child=(--child-silent-after-fork=yes) ;;
        esac
        MPP_TEST_TIMEOUT=600 valgrind -q --error-exitcode=42 \
            --leak-check=full --errors-for-leak-kinds=definite "${child[@]}" \
            "$t" "${names[@]}" >"build/valgrind-$base.log" 2>&1 || rc=$?
        echo "$rc" >"build/valgrind-$base.rc"
    }
    rm -f build/valgrind-*.log build/valgrind-*.rc
    running=0
    for t in build/test_*; do
        [ -x "$t" ] || continue
        if [ $running -ge 2 ]; then wait -n; running=$((running - 1)); fi
        vrun "$t" &
        running=$((running + 1))
    done
    wait
    for t in build/test_*; do
        [ -x "$t" ] || continue
        base=${t##*/}
        rc=$(cat "build/valgrind-$base.rc" 2>/dev/null || echo 0)
        case $rc in
            0) echo "valgrind: $base ok" ;;
            77) echo "valgrind: $base ok (some tests skipped)" ;;
            *) tail -n 30 "build/valgrind-$base.log"
               fail "valgrind on $t (status $rc)" ;;
        esac
    done

    # Every fuzz target of the fuzz build (the fuzz_all target: whatever
    # tests/fuzz defines), and its ctest entries: each target fuzzes for
    # a few seconds on a copy of its seed corpus (scripts/fuzz.sh runs
    # the long campaigns).
    if command -v clang >/dev/null 2>&1; then
        stage "libFuzzer: every fuzz target, short runs (build-fuzz/)"
        fuzz=${MPPROF_FUZZ_BUILD:-build-fuzz}
        if cmake -S . -B "$fuzz" -DCMAKE_C_COMPILER=clang -DMPPROF_FUZZ=ON \
                -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
            cmake --build "$fuzz" -j2 --target fuzz_all; then
            (cd "$fuzz" && ctest --output-on-failure -j2 -L fuzz) ||
                fail "libFuzzer runs (ctest -L fuzz in $fuzz/)"
        else
            fail "the libFuzzer build ($fuzz/)"
        fi
    else
        fail "libFuzzer: no clang (scripts/deps.sh installs it)"
    fi
fi

matrix=${MPPROF_MATRIX:-}
if [ -z "$matrix" ]; then
    matrix=0
    [ "${CI:-}" = true ] && [ "$(id -u)" -eq 0 ] && matrix=1
fi
if [ "$matrix" = 1 ]; then
    stage "interpreter matrix: Debian 13 (the README's commands), sid (3.14, 3.15)"
    scripts/matrix.sh "${MPPROF_MATRIX_ROOT:-build-roots/sid}" ||
        fail "the interpreter matrix (scripts/matrix.sh)"
fi

# The main suite runs last, so its ctest summary and then the verdict
# close the run.
stage "ctest: all tests (build/)"
(cd build && ctest --output-on-failure -j2 --timeout 900) ||
    fail "ctest (build/)"
verdict
