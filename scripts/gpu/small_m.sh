#!/usr/bin/env bash
# One device call for the small-M GEMM work: full build (scripts/gpu/full_build.sh, `.deps` carried), then the CUDA
# tests (GEMM + small-M kernel + attention, the backend, the invariance suite on CUDA), the small-M kernel benchmark
# (mma chain latency, kernel vs cuBLASLt), batch-1/8/64 greedy decode of a synthetic qwen3-8b, and the GEMM benchmark.
# Logs in $OUT (or build-gpu/out).
source "$(dirname "$0")/session.sh"
stamp "build"
scripts/gpu/full_build.sh verbatim test_cuda test_cuda_backend test_invariance bench_decode_cuda bench_gemm_cuda \
  bench_gemm_small_m_cuda || { stamp "build failed"; exit 1; }
source build-gpu/env.sh
B=build-gpu/bin
stamp "test_cuda"
timeout 200 $B/test_cuda >"$out/test_cuda.log" 2>&1; echo "test_cuda exit $?" | tee -a "$out/steps.log"
grep -E "small-M vs|^\[  (PASSED|FAILED)" "$out/test_cuda.log" | tail -20
stamp "bench_gemm_small_m_cuda"
timeout 90 $B/bench_gemm_small_m_cuda --reps 11 >"$out/bench_small_m.log" 2>&1; head -2 "$out/bench_small_m.log"
stamp "synth + bench_decode_cuda"
$B/verbatim synth --arch qwen3-8b --seed 1 --out /tmp/q8 >"$out/synth.log" 2>&1
timeout 200 $B/bench_decode_cuda --model /tmp/q8 --tokens 128 --runs 2 --streams 1,8,64 --modes invariant,fast \
  >"$out/bench_decode.log" 2>&1; echo "bench_decode exit $?"; grep -iE "tok/s|bound|invariant|fast" "$out/bench_decode.log" | tail -12
stamp "test_cuda_backend"
timeout 120 $B/test_cuda_backend >"$out/test_cuda_backend.log" 2>&1; echo "test_cuda_backend exit $?" | tee -a "$out/steps.log"
tail -3 "$out/test_cuda_backend.log"
stamp "test_invariance (cuda)"
VERBATIM_SHARED_DIR=$PWD/.deps/shared VERBATIM_TEST_BACKEND=cuda timeout 120 $B/test_invariance \
  >"$out/test_invariance_cuda.log" 2>&1; echo "test_invariance cuda exit $?" | tee -a "$out/steps.log"
tail -3 "$out/test_invariance_cuda.log"
stamp "bench_gemm_cuda"
timeout 150 $B/bench_gemm_cuda --reps 5 >"$out/bench_gemm.log" 2>"$out/bench_gemm.stderr"; echo "bench_gemm exit $?"
tail -4 "$out/bench_gemm.log"
stamp "done"
