#!/usr/bin/env bash
# One device call: builds bench_persistent_cuda (and PERSIST_TARGETS, default test_cuda: its small-M GEMM tests run
# when built) and runs the persistent-kernel prototype once per argument set of PERSIST_RUNS (';'-separated; default
# below). Logs in $OUT.
source "$(dirname "$0")/session.sh"
build_full bench_persistent_cuda ${PERSIST_TARGETS-test_cuda}
if [ -x "$B/test_cuda" ] && [[ " ${PERSIST_TARGETS-test_cuda} " == *" test_cuda "* ]]; then
  stamp "test_cuda (gemm_small_m)"
  timeout 200 $B/test_cuda --gtest_filter='*SmallM*:*Fused*:*NormPrep*' >"$out/test_cuda.log" 2>&1
  echo "test_cuda exit $?"; grep -E "^\[  (PASSED|FAILED)|FAILED" "$out/test_cuda.log" | tail -5
fi
IFS=';' read -ra runs <<<"${PERSIST_RUNS:---layers 2 --reps 5;--layers 36 --ctx 16;--layers 36 --ctx 48}"
for r in "${runs[@]}"; do
  stamp "bench_persistent_cuda $r"
  # shellcheck disable=SC2086
  timeout 120 $B/bench_persistent_cuda $r 2>&1 | tee -a "$out/persistent.log"
  echo "exit ${PIPESTATUS[0]}"
done
stamp done
