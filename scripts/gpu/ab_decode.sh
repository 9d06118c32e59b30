#!/usr/bin/env bash
# One device call, an A/B of batch-1 decode: full build of this tree and, beside it, of the tree in .carry/old.tar
# (`git archive` of the commit to compare with, carried in `.carry`); the GPU tests (session.sh's cuda_tests) on
# this tree; then bench_decode_cuda at S = 1 (synthetic qwen3-8b, greedy, graphs on), new and old interleaved three
# times; then ncu's per-kernel times of this tree's decode step (as profile_decode.sh). Logs in $OUT.
source "$(dirname "$0")/session.sh"
build_full verbatim test_cuda test_cuda_backend test_invariance bench_decode_cuda
old=/tmp/old
# After the new build: the two share full_build.sh's unpacked prefix.
if [ -f .carry/old.tar ]; then
  mkdir -p $old && tar -xf .carry/old.tar -C $old && ln -sfn "$PWD/.deps" $old/.deps
  (cd $old && BUILD_DIR=build-old OUT=$out/old scripts/gpu/full_build.sh verbatim bench_decode_cuda \
    >"$out/old_build.log" 2>&1) &
  old_pid=$!
fi
$B/verbatim synth --arch qwen3-8b --seed 1 --out /tmp/q8 >/tmp/synth.log 2>&1 &
synth_pid=$!
cuda_tests
wait $synth_pid
if [ -n "${old_pid:-}" ]; then
  wait $old_pid
  echo "old build exit $?"
fi
d="$out/decode_ab.log"
stamp "decode A/B"
for r in 1 2 3; do
  for v in new old; do
    bin=$B/bench_decode_cuda
    [ $v = old ] && bin=$old/build-old/bin/bench_decode_cuda
    [ -x $bin ] || continue
    echo "-- $v run $r" >>"$d"
    timeout 100 $bin --model /tmp/q8 --tokens 128 --runs 2 --streams 1 --modes invariant >>"$d" 2>&1
    echo "$v $r: $(grep -E '^\| inv' "$d" | tail -2 | cut -d'|' -f6 | tr '\n' ' ')"
  done
done
ncu_decode
stamp "done"
