#!/usr/bin/env bash
# One device call: how often bench_gemm_cuda (criterion 2 of issue 4: invariant >= 0.95x cuBLAS at every M of the
# Qwen3-8B shapes) has a point below 0.95x, over RUNS processes (default 6; each tunes its own table), all into
# $out/gemm_runs.log with each run's points below 1.00x and its summary on stdout; then bench_decode_cuda at batch 1,
# prompt 16, async on and off (the ms/step column counting the step in flight at the window's start). TESTS=1: test_cuda
# (the GEMM's tuning and bits among its tests) into $out/tests.log first.
source "$(dirname "$0")/session.sh"
build_full verbatim bench_decode_cuda bench_gemm_cuda test_cuda
synth_start
if [ "${TESTS:-0}" = 1 ]; then
  stamp "test_cuda"
  timeout 200 $B/test_cuda >"$out/tests.log" 2>&1; echo "test_cuda exit $?" | tee -a "$out/steps.log"
  grep -E "^\[  (PASSED|FAILED)|FAILED|tuned in" "$out/tests.log" | tail -12
fi
for i in $(seq 1 "${RUNS:-6}"); do
  stamp "bench_gemm_cuda run $i"
  echo "===== run $i" >>"$out/gemm_runs.log"
  timeout 120 $B/bench_gemm_cuda >"$out/gemm_one.log" 2>&1
  echo "exit $?"
  cat "$out/gemm_one.log" >>"$out/gemm_runs.log"
  grep -E "^[0-9]+x[0-9]+ +[0-9]+ \|" "$out/gemm_one.log" | awk -F'|' '{s=$4; gsub(/[x ]/,"",s); if (s+0 < 1.0) print}'
  grep -E "^speed|^bits:" "$out/gemm_one.log"
  grep -oE "gemm N=[0-9]+ K=[0-9]+ out=bf16 \(invariant, tuned in [0-9.]+" "$out/gemm_one.log" | sed 's/(invariant, //' | tr '\n' ';'; echo
done
rm -f "$out/gemm_one.log"
synth_wait
stamp "bench_decode_cuda S=1 P=16 --async 1,0"
timeout 120 $B/bench_decode_cuda --model /tmp/q8 --tokens 128 --prompt-len 16 --runs 2 --streams 1 \
  --modes invariant --async 1,0 >"$out/s1_p16.log" 2>&1
echo "exit $?"; grep -E "^\| inv|bound" "$out/s1_p16.log"
stamp done
