#!/usr/bin/env bash
# One device call for the GEMM tuner's timing data (uniform W and X copies rotated run by run, as bench_gemm_cuda):
# full build (scripts/gpu/full_build.sh, `.deps` carried), the CUDA tests, the backend tests, the invariance suite on
# CUDA, racecheck on the fused decode-step kernels (with the time it needs), the GEMM benchmark (criterion 2 of the
# CUDA issue), and batch-1 greedy decode under the default fusion mask vs norm + SwiGLU (bench_decode_cuda --fuse 5).
# Logs in $OUT (or build-gpu/out).
source "$(dirname "$0")/session.sh"
build_full verbatim test_cuda test_cuda_backend test_invariance bench_decode_cuda bench_gemm_cuda
synth_start
cuda_tests
san=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
s="$out/sanitizer.log"
stamp "compute-sanitizer --tool racecheck Fused.SwigluEpilogue*"
timeout 200 "$san" --tool racecheck $B/test_cuda --gtest_filter='Fused.Swiglu*' >>"$s" 2>&1
echo "exit $?" | tee -a "$s"; grep -E "RACECHECK SUMMARY|hazard|^\[  (PASSED|FAILED)" "$s" | tail -3
stamp "bench_gemm_cuda"
timeout 300 $B/bench_gemm_cuda >"$out/bench_gemm_cuda.log" 2>"$out/bench_gemm_cuda.stderr"
echo "bench_gemm_cuda exit $?" | tee -a "$out/steps.log"; grep -iE "below|bits|summary" "$out/bench_gemm_cuda.log" | tail -8
synth_wait
d="$out/bench_decode.log"
: >"$d"
for spec in "4 1,8,64" "5 1" "4 1" "5 1"; do
  set -- $spec
  stamp "bench_decode_cuda --fuse $1 --streams $2"
  timeout 150 $B/bench_decode_cuda --model /tmp/q8 --tokens 128 --runs 2 --streams $2 --modes invariant --fuse $1 \
    >>"$d" 2>&1; echo "exit $?"; grep -E "^\| inv" "$d" | tail -n $(( 2 * $(echo $2 | tr ',' '\n' | wc -l) ))
done
stamp "done"
