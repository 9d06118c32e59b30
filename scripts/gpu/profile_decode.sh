#!/usr/bin/env bash
# One device call: where a batch-1 decode step's time goes. Full build, the synthetic qwen3-8b, bench_decode_cuda at
# S = 1 (the reference tok/s of this machine), then Nsight Compute over the decode steps only (bench_decode_cuda
# --profile 1 brackets run 1's decode with cudaProfilerStart / Stop; ncu --profile-from-start off): each kernel
# launched alone (ncu serializes them: no programmatic-launch overlap), clocks and caches left as they are, its
# gpu__time_duration into $out/ncu.csv (session.sh ncu_decode). scripts/gpu/ncu_summary.py sums them per kernel.
source "$(dirname "$0")/session.sh"
build_full verbatim bench_decode_cuda
synth_start
synth_wait
d="$out/bench_decode.log"
stamp "bench_decode_cuda S=1"
timeout 120 $B/bench_decode_cuda --model /tmp/q8 --streams 1 --tokens 128 --runs 2 --modes invariant >"$d" 2>&1
echo "exit $?"; grep -E "^\| inv|bound" "$d"
ncu_decode
stamp "done"
