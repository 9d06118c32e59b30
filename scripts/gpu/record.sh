#!/usr/bin/env bash
# One device call for the record of a commit: full build, the GPU tests (session.sh's cuda_tests), the GEMM benchmark
# (bench_gemm_cuda: issue 4's criterion 2), then batch-1 / 8 / 64 greedy decode of the synthetic qwen3-8b, invariant
# and fast (bench_decode_cuda --streams 1,8,64, two runs each; batch 1 invariant also in three processes of its own).
# Logs in $OUT.
source "$(dirname "$0")/session.sh"
build_full verbatim test_cuda test_cuda_backend test_invariance bench_decode_cuda bench_gemm_cuda
synth_start
cuda_tests
stamp "bench_gemm_cuda"
timeout 300 $B/bench_gemm_cuda >"$out/bench_gemm_cuda.log" 2>"$out/bench_gemm_cuda.stderr"
echo "bench_gemm_cuda exit $?" | tee -a "$out/steps.log"
grep -iE "below|bits|summary" "$out/bench_gemm_cuda.log" | tail -8
synth_wait
stamp "bench_decode_cuda (batch 1, three processes)"
for r in 1 2 3; do
  timeout 100 $B/bench_decode_cuda --model /tmp/q8 --tokens 128 --runs 2 --streams 1 --modes invariant \
    >>"$out/bench_decode_s1.log" 2>&1
done
grep -E "^\| inv" "$out/bench_decode_s1.log"
stamp "bench_decode_cuda"
timeout 200 $B/bench_decode_cuda --model /tmp/q8 --tokens 128 --runs 2 --streams 1,8,64 >"$out/bench_decode.log" 2>&1
echo "exit $?"; grep -E "^\| (inv|fast)" "$out/bench_decode.log"
stamp "done"
