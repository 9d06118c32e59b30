#!/usr/bin/env bash
# One device call: full build, session.sh's cuda_tests (the failures' context on stdout), then batch-1 invariant decode
# of the synthetic qwen3-8b at prompts 16 and 1024 in two processes each, and batch 8 / 64 invariant and fast
# (bench_decode_cuda). Shorter than record.sh (no GEMM or attention benchmark). VERIFY_TRACE=1: also one CUPTI trace of
# batch-1 decode (bench_decode_trace_cuda, from the same build). Logs in $OUT (or build-gpu/out).
source "$(dirname "$0")/session.sh"
build_full verbatim test_cuda test_cuda_backend test_invariance bench_decode_cuda ${VERIFY_TRACE:+bench_decode_trace_cuda}
tests_and_model
for prompt in 16 1024; do for r in 1 2; do
  timeout 100 $B/bench_decode_cuda --model /tmp/q8 --tokens 128 --prompt-len "$prompt" --runs 2 --streams 1 \
    --modes invariant >>"$out/bench_decode_s1.log" 2>&1
  echo "P=$prompt process $r: $(grep -E '^\| inv' "$out/bench_decode_s1.log" | tail -2 | cut -d'|' -f6 | tr '\n' ' ')"
done; done
timeout 200 $B/bench_decode_cuda --model /tmp/q8 --tokens 128 --runs 2 --streams 8,64 >"$out/bench_decode.log" 2>&1
echo "exit $?"; grep -E "^\| (inv|fast)|bound" "$out/bench_decode.log"
if [ -n "${VERIFY_TRACE:-}" ]; then
  stamp "trace"
  timeout 120 $B/bench_decode_trace_cuda --model /tmp/q8 --streams 1 --steps 32 >"$out/trace.log" 2>&1
  echo "exit $?"; head -20 "$out/trace.log"
fi
stamp done
