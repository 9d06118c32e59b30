#!/usr/bin/env bash
# One device call for the record of a commit: full build, the GPU tests (session.sh's cuda_tests), the GEMM benchmark
# (bench_gemm_cuda: issue 4's criterion 2) RECORD_GEMM_RUNS times (default 2: each process tunes its own table, so the
# runs show the spread), the attention benchmark (bench_attention_cuda: criterion 3), then batch-1 / 8 / 64 greedy
# decode of the synthetic qwen3-8b, invariant and fast (bench_decode_cuda --streams 1,8,64, two runs each; batch 1
# invariant also in three processes of its own, at prompt lengths 16 and 1024). Logs in $OUT.
source "$(dirname "$0")/session.sh"
build_full verbatim test_cuda test_cuda_backend test_invariance bench_decode_cuda bench_gemm_cuda bench_attention_cuda
synth_start
cuda_tests
for r in $(seq "${RECORD_GEMM_RUNS:-2}"); do
  stamp "bench_gemm_cuda run $r"
  timeout 300 $B/bench_gemm_cuda >"$out/bench_gemm_cuda_$r.log" 2>"$out/bench_gemm_cuda_$r.stderr"
  echo "bench_gemm_cuda run $r exit $?" | tee -a "$out/steps.log"
  grep -iE "below|bits|summary" "$out/bench_gemm_cuda_$r.log" | tail -8
  grep -E "\|  ?0\.(9[0-4]|[0-8][0-9])x" "$out/bench_gemm_cuda_$r.log"
done
stamp "bench_attention_cuda"
timeout 120 $B/bench_attention_cuda >"$out/bench_attention.log" 2>&1
echo "bench_attention_cuda exit $?"; grep -E "batch 64 ctx 4096|copy" "$out/bench_attention.log" | head -6
synth_wait
stamp "bench_decode_cuda (batch 1, three processes)"
for prompt in 16 1024; do
  for r in 1 2 3; do
    timeout 100 $B/bench_decode_cuda --model /tmp/q8 --tokens 128 --prompt-len "$prompt" --runs 2 --streams 1 \
      --modes invariant >>"$out/bench_decode_s1.log" 2>&1
    echo "P=$prompt process $r: $(grep -E '^\| inv' "$out/bench_decode_s1.log" | tail -2 | cut -d'|' -f6 | tr '\n' ' ')"
  done
done
stamp "bench_decode_cuda"
timeout 200 $B/bench_decode_cuda --model /tmp/q8 --tokens 128 --runs 2 --streams 1,8,64 >"$out/bench_decode.log" 2>&1
echo "exit $?"; grep -E "^\| (inv|fast)" "$out/bench_decode.log"
stamp "done"
