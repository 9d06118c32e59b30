#!/usr/bin/env bash
# One device call: the decode-step fusion masks A/B in one build (bench_decode_cuda --fuse; backend/cuda/cuda_backend.h's
# kFuse*). Full build, the CUDA tests (cuda_tests: the fused kernels against the standalone ones, bitwise), then
# batch-1 greedy decode of the synthetic qwen3-8b for each prompt length of AB_PROMPTS (default "16 1024"), AB_ROUNDS
# (default 2) rounds of each mask of AB_MASKS (default "12 14"), batch AB_WIDE (default 4) at each mask once, and the
# CUPTI trace (bench_decode_trace_cuda) at the mask AB_TRACE (default 12). Logs in $OUT (or build-gpu/out).
source "$(dirname "$0")/session.sh"
build_full verbatim test_cuda test_cuda_backend test_invariance bench_decode_cuda bench_decode_trace_cuda
synth_start
cuda_tests
synth_wait
d="$out/decode_ab.log"
stamp "decode A/B"
masks=${AB_MASKS:-12 14}
for prompt in ${AB_PROMPTS:-16 1024}; do
  for r in $(seq "${AB_ROUNDS:-2}"); do
    for f in $masks; do
      echo "-- fuse $f round $r prompt $prompt" >>"$d"
      timeout 100 $B/bench_decode_cuda --model /tmp/q8 --tokens 128 --prompt-len "$prompt" --runs 2 --streams 1 \
        --modes invariant --fuse "$f" >>"$d" 2>&1
      echo "P=$prompt fuse $f round $r: $(grep -E '^\| inv' "$d" | tail -2 | cut -d'|' -f6 | tr '\n' ' ')"
    done
  done
done
for f in $masks; do
  echo "-- fuse $f streams ${AB_WIDE:-4}" >>"$d"
  timeout 100 $B/bench_decode_cuda --model /tmp/q8 --tokens 128 --runs 2 --streams "${AB_WIDE:-4}" --modes invariant \
    --fuse "$f" >>"$d" 2>&1
  echo "S=${AB_WIDE:-4} fuse $f: $(grep -E '^\| inv' "$d" | tail -2 | cut -d'|' -f6 | tr '\n' ' ')"
done
stamp "trace fuse ${AB_TRACE:-12}"
timeout 200 $B/bench_decode_trace_cuda --model /tmp/q8 --streams 1 --steps 32 --fuse "${AB_TRACE:-12}" \
  >"$out/trace.log" 2>&1
echo "exit $?"; head -14 "$out/trace.log"; sed -n '/in start order/,$p' "$out/trace.log" | head -18
stamp "done"
