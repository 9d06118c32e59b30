#!/usr/bin/env bash
# One device call: the phase stamps of batch-1 decode (docs/experiments/2026-12-04-phase-stamps.patch must be applied:
# `git apply` it first). Full build, then bench_decode_cuda without (A) and with VERBATIM_EXP_STAMPS=1 (B: every 64th
# replayed step prints, per layer, when each phase of the attention, o_proj, gate/up, down and the next q/k/v GEMM
# happened, in us after the layer's q/k/v GEMM's last CTA end) at prompts 16 and 1024, with async scheduling off (the
# stamps are one step's: with a step in flight behind it, the next one would be writing them). Logs in $OUT.
source "$(dirname "$0")/session.sh"
build_full verbatim bench_decode_cuda
synth_start
synth_wait
for p in 16 1024; do
  for e in AB_UNUSED=1 VERBATIM_EXP_STAMPS=1; do
    stamp "decode P=$p $e"
    env $e timeout 120 $B/bench_decode_cuda --model /tmp/q8 --tokens 128 --runs 2 --streams 1 --modes invariant \
      --prompt-len $p --async 0 >"$out/bench.tmp" 2>&1
    echo "exit $?"; grep -E "^\| invariant" "$out/bench.tmp"
    grep -E "EXP_STAMPS" "$out/bench.tmp" | tail -20 | cut -c1-160
    cat "$out/bench.tmp" >>"$out/bench.log"
  done
done
stamp done
