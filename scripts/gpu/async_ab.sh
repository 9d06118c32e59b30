#!/usr/bin/env bash
# One device call: full build, session.sh's cuda_tests (test_cuda with the fed-word fetch and the sampling's token
# array, test_cuda_backend with async scheduling on and off, the invariance suite on CUDA, where async is on by default
# and its case is async off), then the engine's async scheduling A/B in one process per case (bench_decode_cuda
# --async 1,0: one engine each, runs interleaved) at batch 1 (prompts 16 and 1024) and batch 8 and 64, synthetic
# qwen3-8b, invariant mode. Logs in $OUT (or build-gpu/out).
source "$(dirname "$0")/session.sh"
build_full verbatim test_cuda test_cuda_backend test_invariance bench_decode_cuda
tests_and_model
for prompt in 16 1024; do
  stamp "bench_decode_cuda S=1 P=$prompt --async 1,0"
  timeout 150 $B/bench_decode_cuda --model /tmp/q8 --tokens 128 --prompt-len "$prompt" --runs 3 --streams 1 \
    --modes invariant --async 1,0 >"$out/async_s1_p$prompt.log" 2>&1
  echo "exit $?"; grep -E "^\| inv|bound" "$out/async_s1_p$prompt.log"
done
stamp "bench_decode_cuda S=8,64 --async 1,0"
timeout 200 $B/bench_decode_cuda --model /tmp/q8 --tokens 128 --runs 2 --streams 8,64 --modes invariant \
  --async 1,0 >"$out/async_wide.log" 2>&1
echo "exit $?"; grep -E "^\| inv" "$out/async_wide.log"
stamp done
