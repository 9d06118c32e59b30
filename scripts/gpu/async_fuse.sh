#!/usr/bin/env bash
# One device call, the first of a session after the async scheduling and kFuseEmbed landed: full build, the CUDA
# tests (session.sh's cuda_tests), then bench_decode_cuda at batch 1 (prompts 16 and 1024), async scheduling on and
# off in one process (--async 1,0, runs interleaved), at fuse masks 13 (the default) and 29 (13 + kFuseEmbed); batch 8
# and 64 async on/off at the default mask. Logs in $OUT (or build-gpu/out).
source "$(dirname "$0")/session.sh"
build_full verbatim test_cuda test_cuda_backend test_invariance bench_decode_cuda
tests_and_model
for prompt in 16 1024; do
  for f in ${AB_MASKS:-13 29}; do
    stamp "bench_decode_cuda S=1 P=$prompt fuse $f --async 1,0"
    timeout 120 $B/bench_decode_cuda --model /tmp/q8 --tokens 128 --prompt-len "$prompt" --runs 3 --streams 1 \
      --modes invariant --fuse "$f" --async 1,0 >"$out/s1_p${prompt}_f$f.log" 2>&1
    echo "exit $?"; grep -E "^\| inv|bound" "$out/s1_p${prompt}_f$f.log"
  done
done
stamp "bench_decode_cuda S=8,64 --async 1,0"
timeout 150 $B/bench_decode_cuda --model /tmp/q8 --tokens 128 --runs 2 --streams 8,64 --modes invariant \
  --async 1,0 >"$out/async_wide.log" 2>&1
echo "exit $?"; grep -E "^\| inv" "$out/async_wide.log"
stamp done
