#!/usr/bin/env bash
# On a GPU machine: builds the CUDA GEMM test and benchmark through the CUDA-only project (tests/cuda/standalone,
# which needs only cmake, ninja, nvcc and cuBLASLt), runs test_cuda and bench_gemm_cuda, and keeps the logs in $OUT
# (or build-cuda/out). GoogleTest: the system package if there is one, else the sources in $VERBATIM_GTEST_SOURCE_DIR,
# /usr/src/googletest, or build-h7/carry/googletest (carried to the device machine).
#   scripts/gpu/gemm.sh [--no-bench] [--no-test] [--bench-runs N] [--sanitize]
# --bench-runs N runs the benchmark N times (the spread between runs is the noise); --sanitize runs the small tests
# under compute-sanitizer memcheck (the tuning path with its fill/compare kernels on small shapes).
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-$PWD/build-cuda/out}
mkdir -p "$out"
run_test=1 run_bench=1 sanitize=0
while [ $# -gt 0 ]; do
  case $1 in
    --no-bench) run_bench=0 ;;
    --no-test) run_test=0 ;;
    --bench-runs) run_bench=$2; shift ;;
    --sanitize) sanitize=1 ;;
    *) echo "usage: $0 [--no-bench] [--no-test] [--bench-runs N] [--sanitize]" >&2; exit 2 ;;
  esac
  shift
done

{
  echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -srm)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,power.limit --format=csv || true
  nvcc --version | tail -2; cmake --version | head -1; echo "ninja $(ninja --version)"; nproc
  for p in /usr/include/nlohmann /usr/include/gtest /usr/include/CLI /usr/src/googletest /usr/local/cuda/include/cublasLt.h; do
    [ -e "$p" ] && echo "present: $p" || echo "missing: $p"
  done
  ls /usr/local/cuda/lib64/libcublasLt.so* 2>&1 | head -3
  echo "pkg-config: $(pkg-config --list-all 2>/dev/null | wc -l) packages; $(pkg-config --list-all 2>/dev/null | grep -ciE 'pcre2|icu|openblas') of pcre2/icu/openblas"
} 2>&1 | tee "$out/env.log"

gtest=${VERBATIM_GTEST_SOURCE_DIR:-}
if [ -z "$gtest" ] && [ ! -e /usr/include/gtest/gtest.h ]; then
  for d in /usr/src/googletest build-h7/carry/googletest; do [ -f "$d/CMakeLists.txt" ] && gtest=$(realpath "$d") && break; done
fi
echo "googletest sources: ${gtest:-(system package)}" | tee -a "$out/env.log"

set -e
cmake -S tests/cuda/standalone -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DVERBATIM_BUILD_TESTS=ON \
  -DVERBATIM_GTEST_SOURCE_DIR="$gtest" -DCMAKE_POLICY_VERSION_MINIMUM=3.5 >"$out/build.log" 2>&1 ||
  { tail -40 "$out/build.log"; exit 1; }
ninja -C build-cuda -j"$(nproc)" test_cuda bench_gemm_cuda >>"$out/build.log" 2>&1 || { tail -60 "$out/build.log"; exit 1; }
{ grep -o -- "--generate-code=[^ \"]*" build-cuda/compile_commands.json || true; } | sort -u | tee -a "$out/build.log"
set +e

rc=0
if [ "$run_test" = 1 ]; then
  timeout 150 build-cuda/bin/test_cuda 2>&1 | tee "$out/test_cuda.log"
  rc=$((rc | ${PIPESTATUS[0]}))
fi
if [ "$sanitize" = 1 ]; then
  timeout 120 compute-sanitizer --tool memcheck --error-exitcode 3 build-cuda/bin/test_cuda \
    --gtest_filter='CudaGemm.Refuses*:CudaGemm.Rejects*' 2>&1 | tee "$out/sanitizer.log"
  rc=$((rc | ${PIPESTATUS[0]}))
fi
for ((i = 1; i <= run_bench; i++)); do
  suffix=$([ "$i" = 1 ] && echo "" || echo ".$i")
  timeout 240 build-cuda/bin/bench_gemm_cuda 2>"$out/bench_gemm_cuda$suffix.stderr" | tee "$out/bench_gemm_cuda$suffix.log"
  rc=$((rc | ${PIPESTATUS[0]}))
done
echo "gemm.sh: exit $rc"
exit $rc
