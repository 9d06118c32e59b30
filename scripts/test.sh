#!/usr/bin/env bash
# Runs the whole test suite: set-up, Release build, brief fuzzing of every parser (ASan, clang), then ctest.
# CI calls exactly this (.ci/run). GPU tests skip loudly where no GPU exists.
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_BASEDIR="$PWD"  # ccache (when installed) then hits across checkouts of any path
jobs=$(nproc)

scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release -j"$jobs"

# Each parser of untrusted input is fuzzed briefly on every run (longer campaigns: scripts/fuzz.sh 600).
scripts/fuzz.sh "${VERBATIM_FUZZ_SECONDS:-20}"

ctest --preset release -j"$jobs"
