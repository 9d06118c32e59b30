#!/usr/bin/env bash
# One device call recording the CUDA backend after programmatic dependent launch (kernels/cuda/pdl.cuh): full build
# (scripts/gpu/full_build.sh, `.deps` carried), the CUDA tests, the backend tests, the invariance suite on CUDA,
# greedy decode of a synthetic qwen3-8b at batch 1, 8 and 64 (invariant and fast), then the attention and GEMM
# benchmarks. Six logs in $OUT (or build-gpu/out); the build's own logs in /tmp/fb.
source "$(dirname "$0")/session.sh"
build_full verbatim test_cuda test_cuda_backend test_invariance bench_decode_cuda bench_gemm_cuda bench_attention_cuda
synth_start
timeout 200 $B/test_cuda >"$out/test_cuda.log" 2>&1; echo "test_cuda exit $?" | tee -a "$out/steps.log"
grep -E "^\[  (PASSED|FAILED)|FAILED" "$out/test_cuda.log" | tail -8
synth_wait
t="$out/tests_backend_invariance.log"
stamp "test_cuda_backend"
timeout 120 $B/test_cuda_backend >"$t" 2>&1; echo "test_cuda_backend exit $?" | tee -a "$out/steps.log"
tail -1 "$t"
stamp "test_invariance (cuda)"
echo "===== test_invariance, VERBATIM_TEST_BACKEND=cuda" >>"$t"
VERBATIM_SHARED_DIR=$PWD/.deps/shared VERBATIM_TEST_BACKEND=cuda timeout 150 $B/test_invariance >>"$t" 2>&1
echo "test_invariance cuda exit $?" | tee -a "$out/steps.log"; tail -3 "$t"
stamp "bench_decode_cuda"
timeout 240 $B/bench_decode_cuda --model /tmp/q8 --tokens 128 --runs 2 --streams 1,8,64 --modes invariant,fast \
  >"$out/bench_decode.log" 2>&1; echo "bench_decode exit $?"; grep -E "^\||bound|copy" "$out/bench_decode.log" | tail -16
stamp "bench_attention_cuda"
timeout 90 $B/bench_attention_cuda >"$out/bench_attention.log" 2>&1
grep -E "batch 64 ctx 4096|copy" "$out/bench_attention.log" | head -6
stamp "bench_gemm_cuda"
timeout 200 $B/bench_gemm_cuda --reps 5 >"$out/bench_gemm.log" 2>&1; echo "bench_gemm exit $?"
tail -3 "$out/bench_gemm.log"
stamp "done"
