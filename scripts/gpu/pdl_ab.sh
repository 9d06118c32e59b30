#!/usr/bin/env bash
# One device call for programmatic dependent launch (kernels/cuda/pdl.cuh): full build of this tree
# (scripts/gpu/full_build.sh, `.deps` carried) and, beside it, of the tree in .carry/old.tar (`git archive` of the
# commit before, carried in `.carry`); the CUDA tests; then batch-1 and batch-8 greedy decode of a synthetic qwen3-8b,
# old and new binaries interleaved; then the backend tests and the invariance suite on CUDA. Logs in $OUT.
source "$(dirname "$0")/session.sh"
stamp "build new"
scripts/gpu/full_build.sh verbatim test_cuda test_cuda_backend test_invariance bench_decode_cuda || {
  stamp "build failed"; exit 1; }
source build-gpu/env.sh
B=build-gpu/bin
old=/tmp/old
if [ -f .carry/old.tar ]; then
  stamp "build old (background)"
  mkdir -p $old && tar -xf .carry/old.tar -C $old && ln -sfn "$PWD/.deps" $old/.deps
  (cd $old && OUT=$out/old scripts/gpu/full_build.sh verbatim bench_decode_cuda >"$out/old_build.log" 2>&1) &
  old_pid=$!
fi
stamp "synth"
$B/verbatim synth --arch qwen3-8b --seed 1 --out /tmp/q8 >"$out/synth.log" 2>&1
stamp "test_cuda"
timeout 200 $B/test_cuda >"$out/test_cuda.log" 2>&1; echo "test_cuda exit $?" | tee -a "$out/steps.log"
grep -E "small-M vs|^\[  (PASSED|FAILED)|FAILED" "$out/test_cuda.log" | tail -24
if [ -n "${old_pid:-}" ]; then
  wait $old_pid; echo "old build exit $?"
fi
stamp "decode A/B"
for r in 1 2; do
  for v in new old; do
    bin=$B/bench_decode_cuda; [ $v = old ] && bin=$old/build-gpu/bin/bench_decode_cuda
    [ -x $bin ] || continue
    echo "-- $v run $r" | tee -a "$out/decode_ab.log"
    timeout 100 $bin --model /tmp/q8 --tokens 128 --runs 1 --streams 1,8 --modes invariant >>"$out/decode_ab.log" 2>&1
    grep -E "^\| inv|bound" "$out/decode_ab.log" | tail -3
  done
done
stamp "test_cuda_backend"
timeout 120 $B/test_cuda_backend >"$out/test_cuda_backend.log" 2>&1; echo "test_cuda_backend exit $?" | tee -a "$out/steps.log"
tail -3 "$out/test_cuda_backend.log"
stamp "test_invariance (cuda)"
VERBATIM_SHARED_DIR=$PWD/.deps/shared VERBATIM_TEST_BACKEND=cuda timeout 150 $B/test_invariance \
  >"$out/test_invariance_cuda.log" 2>&1; echo "test_invariance cuda exit $?" | tee -a "$out/steps.log"
tail -3 "$out/test_invariance_cuda.log"
stamp "done"
