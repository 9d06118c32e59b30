# Sourced (not run) by the one-call device scripts of this folder: goes to the repository root, sets $out (the logs:
# $OUT, or build-gpu/out) and stamp (a timed line into $out/steps.log), and defines build_full TARGET..., the full
# build through full_build.sh (its own logs in /tmp/fb; on failure the tail, and the script exits), after which $B
# holds the binaries' folder and LD_LIBRARY_PATH the carried libraries. Also cuda_tests, ncu_decode, synth_start,
# synth_wait and tests_and_model (below).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
out=${OUT:-$PWD/build-gpu/out}
mkdir -p "$out"
stamp() { echo "== $(date -u +%H:%M:%S) $*" | tee -a "$out/steps.log"; }
build_full() {
  stamp "build"
  OUT=/tmp/fb scripts/gpu/full_build.sh "$@" | tee -a "$out/steps.log" ||
    { stamp "build failed"; tail -40 /tmp/fb/build.log; exit 1; }
  source build-gpu/env.sh
  B=build-gpu/bin
}
# After build_full: test_cuda, test_cuda_backend and the invariance suite on CUDA (stories260K from .deps/shared), all
# into $out/tests.log, each exit status into steps.log, a summary line or two of each on stdout.
cuda_tests() {
  local t="$out/tests.log"
  stamp "test_cuda"
  timeout 200 $B/test_cuda >"$t" 2>&1; echo "test_cuda exit $?" | tee -a "$out/steps.log"
  grep -E "^\[  (PASSED|FAILED)|FAILED|fusions: seed" "$t" | tail -8
  stamp "test_cuda_backend"
  echo "===== test_cuda_backend" >>"$t"
  timeout 150 $B/test_cuda_backend >>"$t" 2>&1; echo "test_cuda_backend exit $?" | tee -a "$out/steps.log"
  grep -E "fused GEMM launches|FAILED" "$t" | tail -6; tail -1 "$t"
  stamp "test_invariance (cuda)"
  echo "===== test_invariance, VERBATIM_TEST_BACKEND=cuda" >>"$t"
  VERBATIM_SHARED_DIR=$PWD/.deps/shared VERBATIM_TEST_BACKEND=cuda timeout 150 $B/test_invariance >>"$t" 2>&1
  echo "test_invariance cuda exit $?" | tee -a "$out/steps.log"; tail -2 "$t"
}
# After build_full, with the synthetic qwen3-8b in /tmp/q8: Nsight Compute over 3 batch-1 decode steps only
# (bench_decode_cuda --profile 1 brackets them with cudaProfilerStart / Stop), each kernel alone, clocks and caches as
# found, gpu__time_duration into $out/ncu.csv (scripts/gpu/ncu_summary.py sums it per kernel).
ncu_decode() {
  local ncu_bin
  ncu_bin=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  stamp "ncu ($ncu_bin)"
  timeout 300 "$ncu_bin" --profile-from-start off --clock-control none --cache-control none \
    --metrics gpu__time_duration.sum --csv --page raw \
    $B/bench_decode_cuda --model /tmp/q8 --streams 1 --tokens 4 --runs 1 --modes invariant --profile 1 \
    >"$out/ncu.csv" 2>"$out/ncu.err"
  echo "ncu exit $?"; tail -3 "$out/ncu.err"; grep -c '^"' "$out/ncu.csv"
}
# After build_full: the synthetic qwen3-8b the decode benchmarks run (verbatim synth --arch qwen3-8b --seed 1) into
# /tmp/q8, in the background (synth_start; its log /tmp/synth.log), and the wait for it (synth_wait: on failure the
# log's tail, and the script exits).
# A warm machine keeps the model of an earlier call (/tmp/q8.done marks a complete one; a partial one is redone).
synth_start() {
  if [ -f /tmp/q8.done ]; then
    stamp "synth: /tmp/q8 kept from an earlier call"
    synth_pid=
    return
  fi
  stamp "synth (background)"
  rm -rf /tmp/q8
  ($B/verbatim synth --arch qwen3-8b --seed 1 --out /tmp/q8 && touch /tmp/q8.done) >/tmp/synth.log 2>&1 &
  synth_pid=$!
}
synth_wait() {
  [ -z "$synth_pid" ] && return
  wait "$synth_pid" || { stamp "synth failed"; tail /tmp/synth.log; exit 1; }
}
# After build_full: the synthetic model made in the background while cuda_tests runs, any failure's lines on stdout,
# then the wait for the model (the usual start of a call that tests and then benchmarks decode).
tests_and_model() {
  synth_start
  cuda_tests
  grep -E "FAILED|Failure|differ|DIFFER" -A4 "$out/tests.log" | head -30
  synth_wait
}
