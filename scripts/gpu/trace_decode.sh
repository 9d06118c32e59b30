#!/usr/bin/env bash
# One device call: where a batch-1 decode step's time goes inside the real graph. Full build of verbatim and
# bench_decode_trace_cuda (CUPTI kernel activity over decode steps, summed per kernel: in-graph duration and the time
# each kernel extends the step), the synthetic qwen3-8b, then the trace at TRACE_STREAMS (default 1) with the default
# fusions and with none. Logs in $OUT.
source "$(dirname "$0")/session.sh"
build_full verbatim bench_decode_trace_cuda
synth_start
synth_wait
for s in ${TRACE_STREAMS:-1}; do
  for f in 12 0; do
    stamp "trace streams $s fuse $f"
    timeout 200 $B/bench_decode_trace_cuda --model /tmp/q8 --streams "$s" --steps 32 --fuse $f \
      >"$out/trace_s${s}_f${f}.log" 2>&1
    echo "exit $?"; head -30 "$out/trace_s${s}_f${f}.log"
  done
done
stamp "done"
