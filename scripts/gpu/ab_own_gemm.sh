#!/usr/bin/env bash
# One device call: batch-1 and batch-8 greedy decode of a synthetic qwen3-8b with the invariant GEMM table allowed to
# pick the own small-M kernel (--own-gemm 1) and without it (cuBLASLt only, --own-gemm 0), interleaved twice.
# Needs `.deps` carried (scripts/gpu/full_build.sh).
set -uo pipefail
scripts/gpu/full_build.sh verbatim bench_decode_cuda >/dev/null || exit 1
source build-gpu/env.sh; B=build-gpu/bin
$B/verbatim synth --arch qwen3-8b --seed 1 --out /tmp/q8 >/dev/null 2>&1
for own in 1 0 1 0; do echo "own-gemm $own"; timeout 100 $B/bench_decode_cuda --model /tmp/q8 --tokens 128 --runs 1 --streams 1,8 --modes invariant --own-gemm $own 2>&1 | grep "^| inv"; done
