#!/usr/bin/env bash
# One device call for the grown attention splits (CudaBackendOptions::split_min, generate --cuda-split-min): full
# build, the GPU tests (session.sh's cuda_tests; the invariance suite's SyntheticInvarianceGrownSplits runs on CUDA),
# then bench_decode_cuda on the synthetic qwen3-8b with --split-min 0 (the default: one fixed 512) and 128,
# interleaved, at batch 1 with 16- and 1024-token prompts and at batch 64 with 1024. Logs in $OUT.
source "$(dirname "$0")/session.sh"
build_full verbatim test_cuda test_cuda_backend test_invariance bench_decode_cuda
synth_start
cuda_tests
grep -E "GrownSplits" "$out/tests.log" | tail -2
synth_wait
d="$out/decode.log"
stamp "decode"
for c in 1:16:128 1:1024:64 64:1024:32; do
  IFS=: read -r streams prompt tokens <<<"$c"
  for r in 1 2; do
    for m in 0 128; do
      echo "-- split-min $m round $r streams $streams prompt $prompt" >>"$d"
      timeout 100 $B/bench_decode_cuda --model /tmp/q8 --tokens "$tokens" --prompt-len "$prompt" --runs 2 \
        --streams "$streams" --modes invariant --split-min $m >>"$d" 2>&1
      echo "S=$streams P=$prompt min $m $r: $(grep -E '^\| inv' "$d" | tail -2 | cut -d'|' -f6 | tr '\n' ' ')"
    done
  done
done
stamp "done"
