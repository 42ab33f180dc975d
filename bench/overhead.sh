#!/bin/sh
# Profiler overhead: unprofiled vs cProfile vs mpprof, alternating rounds.
#
#   bench/overhead.sh [--rounds N] [--calls N] [--mpprof PATH] [--target R] ...
#
# MPPROF (env) or --mpprof names the binary (default: build/mpprof);
# MPPROF_PYTHON or --python the interpreter.  Everything else is in bench.py.
here=$(cd "$(dirname "$0")" && pwd)
exec "${BENCH_PYTHON:-python3}" "$here/bench.py" overhead "$@"
