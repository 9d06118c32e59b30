#!/usr/bin/env bash
# One device call for the attention-inputs fusion (CudaBackendOptions::fuse's kFuseAttention,
# paged_attention_with_inputs): full build, the GPU tests (session.sh's cuda_tests, with
# CudaPagedAttention.FusedInputsEqualSeparateBitwise and CudaBackendFusion), then bench_decode_cuda on the synthetic
# qwen3-8b, greedy, graphs on, --fuse 12 (SwiGLU + attention, the new default) against --fuse 4 (SwiGLU only),
# interleaved, for each case of FA_CASES (STREAMS:PROMPT:TOKENS). Logs in $OUT.
source "$(dirname "$0")/session.sh"
build_full verbatim test_cuda test_cuda_backend test_invariance bench_decode_cuda
synth_start
cuda_tests
grep -E "fused inputs,|fused attention launches" "$out/tests.log" | head -20
synth_wait
d="$out/decode.log"
for c in ${FA_CASES:-1:16:128 1:1024:64 8:16:64 64:16:64}; do
  IFS=: read -r streams prompt tokens <<<"$c"
  for r in $(seq "${FA_ROUNDS:-2}"); do
    for f in 12 4; do
      echo "-- fuse $f round $r streams $streams prompt $prompt tokens $tokens" >>"$d"
      timeout 100 $B/bench_decode_cuda --model /tmp/q8 --tokens "$tokens" --prompt-len "$prompt" --runs 2 \
        --streams "$streams" --modes invariant --fuse $f >>"$d" 2>&1
      echo "S=$streams P=$prompt fuse $f $r: $(grep -E '^\| inv' "$d" | tail -2 | cut -d'|' -f6,8 | tr '\n' ' ')"
    done
  done
done
stamp "done"
