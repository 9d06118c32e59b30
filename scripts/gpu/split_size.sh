#!/usr/bin/env bash
# One device call measuring the attention's invariant split size (EngineOptions::cuda_split_size) in batch-1 and
# batch-16 greedy decode of the synthetic qwen3-8b, at the short context of bench_decode_cuda's default and at ~0.5-1K:
# full build (scripts/gpu/full_build.sh, `.deps` carried), the backend tests and the invariance suite on CUDA (the
# option's plumbing), then bench_decode_cuda --split-size S. Logs in $OUT (or build-gpu/out).
source "$(dirname "$0")/session.sh"
build_full verbatim test_cuda_backend test_invariance bench_decode_cuda
synth_start
t="$out/tests.log"
stamp "test_cuda_backend"
timeout 150 $B/test_cuda_backend >"$t" 2>&1; echo "test_cuda_backend exit $?" | tee -a "$out/steps.log"; tail -1 "$t"
stamp "test_invariance (cuda)"
VERBATIM_SHARED_DIR=$PWD/.deps/shared VERBATIM_TEST_BACKEND=cuda timeout 150 $B/test_invariance >>"$t" 2>&1
echo "test_invariance cuda exit $?" | tee -a "$out/steps.log"; tail -1 "$t"
synth_wait
d="$out/bench_decode.log"
: >"$d"
run() {  # streams prompt-len tokens split
  stamp "bench_decode_cuda --streams $1 --prompt-len $2 --tokens $3 --split-size $4"
  timeout 120 $B/bench_decode_cuda --model /tmp/q8 --streams $1 --prompt-len $2 --tokens $3 --runs 2 \
    --modes invariant --split-size $4 >>"$d" 2>&1
  echo "exit $?"; grep -E "^\| inv" "$d" | tail -n 2
}
for s in 512 128 512 128 256 64; do run 1 16 128 $s; done
for s in 512 128 256 64 512 128; do run 1 1024 64 $s; done
for s in 512 128 512 128; do run 16 512 64 $s; done
stamp "done"
