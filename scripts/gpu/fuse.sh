#!/usr/bin/env bash
# One device call recording the decode-step fusions (CudaBackendOptions::fuse, kernels/cuda/gemm_small_m.cuh): full
# build (scripts/gpu/full_build.sh, `.deps` carried), the CUDA tests (the fused-kernel tests among them), the backend
# tests (fusion on == off, bitwise), the invariance suite on CUDA, compute-sanitizer on the fused kernels (the backend
# fusion test's tiny shapes), then greedy decode of a synthetic qwen3-8b at batch 1, 4, 8, 64 under several fusion masks
# (A/B in one build). Logs in $OUT (or build-gpu/out); the build's own logs in /tmp/fb.
source "$(dirname "$0")/session.sh"
build_full verbatim test_cuda test_cuda_backend test_invariance bench_decode_cuda
synth_start
cuda_tests
san=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
s="$out/sanitizer.log"
for tool in memcheck racecheck synccheck; do
  stamp "compute-sanitizer --tool $tool CudaBackendFusion.*"
  echo "===== $tool" >>"$s"
  timeout 90 "$san" --tool $tool $B/test_cuda_backend --gtest_filter='CudaBackendFusion.*' >>"$s" 2>&1
  echo "exit $?" | tee -a "$s"; grep -E "ERROR SUMMARY|RACECHECK SUMMARY|^\[  (PASSED|FAILED)" "$s" | tail -2
done
synth_wait
d="$out/bench_decode.log"
: >"$d"
# Fusion masks (bench_decode_cuda --fuse): 7 all, 0 none, 1 norm prologue, 2 residual, 4 SwiGLU epilogue, 6 both.
for spec in "7 1,4,8,64" "0 1,4,8,64" "1 1" "2 1" "4 1" "6 1,8" "7 1"; do
  set -- $spec
  stamp "bench_decode_cuda --fuse $1 --streams $2"
  timeout 150 $B/bench_decode_cuda --model /tmp/q8 --tokens 128 --runs 2 --streams $2 --modes invariant --fuse $1 \
    >>"$d" 2>&1; echo "exit $?"; grep -E "^\| inv" "$d" | tail -n $(( 2 * $(echo $2 | tr ',' '\n' | wc -l) ))
done
stamp "done"
