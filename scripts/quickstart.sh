#!/usr/bin/env bash
# The main job in one command: install what is missing, build, and profile
# the bundled serial and parallel examples, then compare them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
echo
echo "== mpprof run examples/mc_parallel.py"
build/mpprof run -o mpprof-out/parallel examples/mc_parallel.py
