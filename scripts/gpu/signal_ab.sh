#!/usr/bin/env bash
# One device call: the fused decode attention waiting on head signals (B, VERBATIM_EXP_SIGNAL=1) against main (A):
# tests with B, interleaved decode, a trace of each. Needs `git apply docs/experiments/2026-12-04-head-signal-nowait.patch`
# (docs/performance.md, 2026-12-04: slower, and FusedEqualsUnfusedBitwise failed with it). Logs in $OUT.
source "$(dirname "$0")/session.sh"
build_full verbatim test_cuda test_cuda_backend test_invariance bench_decode_cuda bench_decode_trace_cuda
synth_start
stamp "B tests"
VERBATIM_EXP_SIGNAL=1 timeout 150 $B/test_cuda_backend >"$out/tests_B.log" 2>&1; echo "test_cuda_backend B exit $?"
grep -E "fused GEMM launches|FAILED" "$out/tests_B.log" | tail -6; tail -1 "$out/tests_B.log"
VERBATIM_EXP_SIGNAL=1 VERBATIM_SHARED_DIR=$PWD/.deps/shared VERBATIM_TEST_BACKEND=cuda timeout 150 $B/test_invariance >>"$out/tests_B.log" 2>&1
echo "test_invariance B exit $?"; tail -2 "$out/tests_B.log"
synth_wait
bench() {  # LABEL ENV ARGS...
  local label=$1 e=$2; shift 2
  stamp "$label $e $*"
  env $e timeout 120 $B/bench_decode_cuda --model /tmp/q8 --tokens 128 --runs 2 --streams 1 --modes invariant "$@" >"$out/bench.tmp" 2>&1
  echo "exit $?"; grep -E "^\| invariant|rror" "$out/bench.tmp" | sed "s/^/[$label] /"
  cat "$out/bench.tmp" >>"$out/bench.log"
}
for r in 1 2; do bench A AB_UNUSED=1; bench B VERBATIM_EXP_SIGNAL=1; done
bench A AB_UNUSED=1 --prompt-len 1024; bench B VERBATIM_EXP_SIGNAL=1 --prompt-len 1024
for v in A B; do
  stamp "trace $v"
  if [ $v = A ]; then e="AB_UNUSED=1"; else e="VERBATIM_EXP_SIGNAL=1"; fi
  env "$e" timeout 120 $B/bench_decode_trace_cuda --model /tmp/q8 --streams 1 --steps 32 >"$out/trace_$v.log" 2>&1
  echo "exit $?"; head -28 "$out/trace_$v.log" | tail -26
done
stamp done
