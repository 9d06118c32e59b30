#!/usr/bin/env bash
# One device call: verify_decode.sh's work (full build, the CUDA tests, batch-1 decode at prompts 16 and 1024 in two
# processes, batch 8 / 64 invariant and fast) plus one CUPTI trace of batch-1 decode, from one build. Logs in $OUT.
source "$(dirname "$0")/session.sh"
build_full verbatim test_cuda test_cuda_backend test_invariance bench_decode_cuda bench_decode_trace_cuda
synth_start
cuda_tests
grep -E "FAILED|Failure|differ|DIFFER" -A4 "$out/tests.log" | head -30
synth_wait
for prompt in 16 1024; do for r in 1 2; do
  timeout 100 $B/bench_decode_cuda --model /tmp/q8 --tokens 128 --prompt-len "$prompt" --runs 2 --streams 1 \
    --modes invariant >>"$out/bench_decode_s1.log" 2>&1
  echo "P=$prompt process $r: $(grep -E '^\| inv' "$out/bench_decode_s1.log" | tail -2 | cut -d'|' -f6 | tr '\n' ' ')"
done; done
grep -E "copy bandwidth|bound" "$out/bench_decode_s1.log" | head -2
timeout 200 $B/bench_decode_cuda --model /tmp/q8 --tokens 128 --runs 2 --streams 8,64 >"$out/bench_decode.log" 2>&1
echo "exit $?"; grep -E "^\| (inv|fast)|bound" "$out/bench_decode.log"
stamp "trace"
timeout 120 $B/bench_decode_trace_cuda --model /tmp/q8 --streams 1 --steps 32 >"$out/trace.log" 2>&1
echo "exit $?"; head -20 "$out/trace.log"
stamp done
