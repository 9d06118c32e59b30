#!/usr/bin/env bash
# One device call for a card not measured at the current code (the first H100 since 2026-11-24): full build, the CUDA
# tests (session.sh's cuda_tests), bench_decode_cuda at batch 1 (prompts 16 and 1024, async scheduling on and off in
# one process, interleaved) and at batch 8 and 64, then bench_attention_cuda (all its cases, criterion 3's batch 64 /
# context 4096 among them) and bench_gemm_cuda (criterion 2's shapes, invariant vs cuBLAS's default). Logs in $OUT.
source "$(dirname "$0")/session.sh"
build_full verbatim test_cuda test_cuda_backend test_invariance bench_decode_cuda bench_attention_cuda bench_gemm_cuda
tests_and_model
for prompt in 16 1024; do
  stamp "bench_decode_cuda S=1 P=$prompt --async 1,0"
  timeout 120 $B/bench_decode_cuda --model /tmp/q8 --tokens 128 --prompt-len "$prompt" --runs 3 --streams 1 \
    --modes invariant,fast --async 1,0 >"$out/s1_p$prompt.log" 2>&1
  echo "exit $?"; grep -E "^\| (inv|fast)|bound" "$out/s1_p$prompt.log"
done
stamp "bench_decode_cuda S=8,64 --async 1,0"
timeout 150 $B/bench_decode_cuda --model /tmp/q8 --tokens 128 --runs 2 --streams 8,64 --modes invariant,fast \
  --async 1,0 >"$out/wide.log" 2>&1
echo "exit $?"; grep -E "^\| (inv|fast)" "$out/wide.log"
stamp "bench_attention_cuda"
timeout 120 $B/bench_attention_cuda >"$out/attention.log" 2>&1
echo "exit $?"; grep -E "copy|batch 64 ctx 4096|batch 1 ctx" "$out/attention.log" | head -12
stamp "bench_gemm_cuda"
timeout 180 $B/bench_gemm_cuda >"$out/gemm.log" 2>&1
echo "exit $?"; grep -iE "worst|min|bitwise|differ|summary" "$out/gemm.log" | tail -12
stamp done
