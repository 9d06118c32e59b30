#!/usr/bin/env bash
# One device call: an A/B of an environment switch. Full build, the CUDA tests (session.sh's cuda_tests, switch unset),
# then batch-1 decode of the synthetic qwen3-8b with the switch unset (A) and set to AB_VALUE (B), interleaved:
# AB_ROUNDS rounds at prompt 16, one at prompt 1024, and the CUPTI trace of each. Logs in $OUT.
#   AB_VAR=VERBATIM_EXP_X [AB_VALUE=1] [AB_ROUNDS=2] scripts/gpu/env_ab.sh
source "$(dirname "$0")/session.sh"
var=${AB_VAR:?AB_VAR names the switch}
val=${AB_VALUE:-1}
build_full verbatim test_cuda test_cuda_backend test_invariance bench_decode_cuda bench_decode_trace_cuda
synth_start
cuda_tests
synth_wait
bench() {  # bench LABEL ENV... -- ARGS...
  local label=$1; shift
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done; shift
  stamp "$label $*"
  env "${envs[@]}" timeout 120 $B/bench_decode_cuda --model /tmp/q8 --tokens 128 --runs 2 --streams 1 \
    --modes invariant "$@" >"$out/bench.tmp" 2>&1
  echo "exit $?"; grep -E "^\| invariant|copy bandwidth" "$out/bench.tmp" | tail -3 | sed "s/^/[$label] /"
  cat "$out/bench.tmp" >>"$out/bench.log"
}
for r in $(seq 1 "${AB_ROUNDS:-2}"); do
  bench "A" "AB_UNUSED=1" -- 
  bench "B" "$var=$val" --
done
bench "A" "AB_UNUSED=1" -- --prompt-len 1024
bench "B" "$var=$val" -- --prompt-len 1024
for v in A B; do
  stamp "trace $v"
  if [ $v = A ]; then e="AB_UNUSED=1"; else e="$var=$val"; fi
  env "$e" timeout 120 $B/bench_decode_trace_cuda --model /tmp/q8 --streams 1 --steps 32 >"$out/trace_$v.log" 2>&1
  echo "exit $?"; head -24 "$out/trace_$v.log"
done
stamp done
