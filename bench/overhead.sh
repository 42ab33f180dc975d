#!/bin/sh
# mpprof's benchmarks: every performance figure with its target, one run.
#
#   bench/overhead.sh                 everything (about 4 minutes; the memory
#                                     section alone runs 60 s)
#   bench/overhead.sh --quick         everything, shortened (< 2 minutes)
#   bench/overhead.sh overhead pool   only these sections
#   bench/overhead.sh --help          all options (bench.py)
#
# MPPROF (env) or --mpprof names the binary (default: build/mpprof);
# MPPROF_PYTHON or --python the interpreter; bench_agg is looked up next to
# the mpprof binary (build with -DMPPROF_BUILD_TESTS=ON, the default).
here=$(cd "$(dirname "$0")" && pwd)
exec "${BENCH_PYTHON:-python3}" "$here/bench.py" "$@"
