#!/usr/bin/env bash
# One device call verifying the CUDA code of this tree: full build (scripts/gpu/full_build.sh, `.deps` carried), the
# CUDA tests, the backend tests, the invariance suite on CUDA, and compute-sanitizer (memcheck, racecheck, synccheck)
# on the small-M GEMM accuracy test and the paged-attention oracle test. Logs in $OUT (or build-gpu/out).
source "$(dirname "$0")/session.sh"
build_full verbatim test_cuda test_cuda_backend test_invariance
t="$out/tests.log"
stamp "test_cuda"
timeout 200 $B/test_cuda >"$t" 2>&1; echo "test_cuda exit $?" | tee -a "$out/steps.log"; grep -E "^\[  (PASSED|FAILED)" "$t"
stamp "test_cuda_backend"
echo "===== test_cuda_backend" >>"$t"
timeout 120 $B/test_cuda_backend >>"$t" 2>&1; echo "test_cuda_backend exit $?" | tee -a "$out/steps.log"; tail -1 "$t"
stamp "test_invariance (cuda)"
echo "===== test_invariance, VERBATIM_TEST_BACKEND=cuda" >>"$t"
VERBATIM_SHARED_DIR=$PWD/.deps/shared VERBATIM_TEST_BACKEND=cuda timeout 150 $B/test_invariance >>"$t" 2>&1
echo "test_invariance cuda exit $?" | tee -a "$out/steps.log"; tail -3 "$t"
san=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
s="$out/sanitizer.log"
for tool in memcheck racecheck synccheck; do
  for f in CudaGemmSmallM.AccuracyAgainstCpuReference CudaPagedAttention.MatchesCpuOracle; do
    stamp "compute-sanitizer --tool $tool $f"
    echo "===== $tool $f" >>"$s"
    timeout 150 "$san" --tool $tool $B/test_cuda --gtest_filter=$f >>"$s" 2>&1
    echo "exit $?" | tee -a "$s"; grep -E "ERROR SUMMARY|RACECHECK SUMMARY|hazard|^\[  (PASSED|FAILED)" "$s" | tail -2
  done
done
stamp "done"
