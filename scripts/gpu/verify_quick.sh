#!/usr/bin/env bash
# One device call: full build of the CUDA tests and session.sh's cuda_tests (test_cuda, test_cuda_backend, the
# invariance suite on CUDA), the failures' context on stdout. Logs in $OUT (or build-gpu/out).
source "$(dirname "$0")/session.sh"
build_full test_cuda test_cuda_backend test_invariance
cuda_tests
grep -E "FAILED|Failure|DIFFER" -A4 "$out/tests.log" | head -30
stamp done
