#!/usr/bin/env bash
# One device call: the GPU's idle time between decode steps and the dependent mma chain's latency (2026-12-04 in
# docs/performance.md). Needs the event probe: `git apply docs/experiments/2026-12-04-gap-probe.patch` first (its
# VERBATIM_EXP_GAP prints "EXP_GAP after N steps: host gap, plan copies, graph+sample" every 64 steps), with async
# scheduling on and off (on, the host gap is the GPU's time from one step's sampling to the next step's fetch). Logs in
# $OUT.
source "$(dirname "$0")/session.sh"
build_full verbatim bench_decode_cuda bench_decode_trace_cuda
synth_start
stamp "mma chain"
nvcc -O3 -gencode=arch=compute_90a,code=sm_90a -o /tmp/mma_chain scripts/gpu/mma_chain.cu && /tmp/mma_chain | tee "$out/mma_chain.log"
synth_wait
for p in 16 1024; do
  for a in 1 0; do
    for e in AB_UNUSED=1 VERBATIM_EXP_GAP=1; do
      stamp "decode P=$p async $a $e"
      env $e timeout 120 $B/bench_decode_cuda --model /tmp/q8 --tokens 128 --runs 2 --streams 1 --modes invariant \
        --prompt-len $p --async $a >"$out/bench.tmp" 2>&1
      echo "exit $?"; grep -E "^\| invariant|EXP_GAP" "$out/bench.tmp" | tail -6
      cat "$out/bench.tmp" >>"$out/bench.log"
    done
  done
done
stamp "trace"
timeout 120 $B/bench_decode_trace_cuda --model /tmp/q8 --streams 1 --steps 32 >"$out/trace.log" 2>&1
echo "exit $?"; head -30 "$out/trace.log"
stamp done
