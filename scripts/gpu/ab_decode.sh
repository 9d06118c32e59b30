#!/usr/bin/env bash
# One device call, an A/B of decode: full build of this tree and, beside it, of the tree in .carry/old.tar (`git
# archive` of the commit to compare with, carried in `.carry`); the GPU tests (session.sh's cuda_tests) on this tree;
# then bench_decode_cuda (synthetic qwen3-8b, greedy, graphs on) for each case of AB_CASES (STREAMS:PROMPT:TOKENS,
# default "1:16:128"), new and old interleaved AB_ROUNDS times (default 3); AB_ATTENTION=1 adds bench_attention_cuda
# of this tree, AB_NCU=1 (the default) ncu's per-kernel times of this tree's batch-1 step (session.sh ncu_decode).
# Logs in $OUT.
source "$(dirname "$0")/session.sh"
targets="verbatim test_cuda test_cuda_backend test_invariance bench_decode_cuda"
[ "${AB_ATTENTION:-0}" = 1 ] && targets="$targets bench_attention_cuda"
build_full $targets
old=/tmp/old
# After the new build: the two share full_build.sh's unpacked prefix.
if [ -f .carry/old.tar ]; then
  mkdir -p $old && tar -xf .carry/old.tar -C $old && ln -sfn "$PWD/.deps" $old/.deps
  (cd $old && BUILD_DIR=build-old OUT=$out/old scripts/gpu/full_build.sh verbatim bench_decode_cuda \
    >"$out/old_build.log" 2>&1) &
  old_pid=$!
fi
synth_start
cuda_tests
if [ "${AB_ATTENTION:-0}" = 1 ]; then
  stamp "bench_attention_cuda"
  timeout 120 $B/bench_attention_cuda >"$out/bench_attention.log" 2>&1
  echo "exit $?"; grep -E "^\| decode batch (1|64) ctx (1024|4096)|^\| prefill" "$out/bench_attention.log"
fi
synth_wait
if [ -n "${old_pid:-}" ]; then
  wait $old_pid
  echo "old build exit $?"
fi
d="$out/decode_ab.log"
stamp "decode A/B"
for c in ${AB_CASES:-1:16:128}; do
  IFS=: read -r streams prompt tokens <<<"$c"
  for r in $(seq "${AB_ROUNDS:-3}"); do
    for v in new old; do
      bin=$B/bench_decode_cuda
      [ $v = old ] && bin=$old/build-old/bin/bench_decode_cuda
      [ -x $bin ] || continue
      echo "-- $v round $r streams $streams prompt $prompt tokens $tokens" >>"$d"
      timeout 100 $bin --model /tmp/q8 --tokens "$tokens" --prompt-len "$prompt" --runs 2 --streams "$streams" \
        --modes invariant >>"$d" 2>&1
      echo "S=$streams P=$prompt $v $r: $(grep -E '^\| inv' "$d" | tail -2 | cut -d'|' -f6 | tr '\n' ' ')"
    done
  done
done
[ "${AB_NCU:-1}" = 1 ] && ncu_decode
stamp "done"
