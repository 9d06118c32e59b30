#!/usr/bin/env bash
# Issue "Proof and benchmarks" on a GPU machine, in one call: builds the full project (scripts/gpu/full_build.sh),
# writes the synthetic qwen3-8b, then
#   1. `verbatim bench` (1000 chat requests, outputs uniform in [90, 110], EOS ignored) through `verbatim serve`
#      over HTTP, invariant mode, then fast mode, and their ratio;
#   2. `verbatim demo` (N identical greedy requests under random background load, fast then invariant) with a report;
#   3. the CUDA backend tests and the invariance suite on CUDA, as a record of this commit.
# Every step has its own time limit and writes its log to $OUT as it goes, so a step that fails or runs out of time
# leaves the others' results. Overrides (for a dry run on the CPU: BIN=build/bin BACKEND=cpu ARCH=qwen3-0.6b LAYERS=2
# N=20 SKIP_BUILD=1 SKIP_TESTS=1): BIN, BACKEND, ARCH, LAYERS, N, CONCURRENCY, SKIP_BUILD, SKIP_TESTS, MAX_RUNNING,
# KV_MB, PORT.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-$PWD/build-gpu/out}
mkdir -p "$out"
bin=${BIN:-build-gpu/bin}
backend=${BACKEND:-cuda}
arch=${ARCH:-qwen3-8b}
layers=${LAYERS:-}
n=${N:-1000}
conc=${CONCURRENCY:-1000}
max_running=${MAX_RUNNING:-256}
kv_mb=${KV_MB:-12000}
port=${PORT:-8123}
model=/tmp/proof-$arch
t0=$(date +%s)
stamp() { echo "[proof +$(($(date +%s) - t0))s] $*" | tee -a "$out/proof.log"; }

if [ -z "${SKIP_BUILD:-}" ]; then
  stamp "build"
  scripts/gpu/full_build.sh verbatim test_cuda_backend test_invariance || { stamp "build failed"; exit 1; }
  # shellcheck disable=SC1091
  source build-gpu/env.sh
fi

stamp "synth $arch"
rm -rf "$model"
"$bin/verbatim" synth --arch "$arch" --seed 1 ${layers:+--layers "$layers"} --out "$model" >"$out/synth.log" 2>&1 ||
  { tail -5 "$out/synth.log"; stamp "synth failed"; exit 1; }

# One server per mode; bench --url against it; SIGTERM drains it.
bench_mode() {
  local mode=$1
  stamp "serve --mode $mode"
  "$bin/verbatim" serve --model "$model" --backend "$backend" --mode "$mode" --port "$port" \
    --max-running "$max_running" --max-batch-tokens "$((max_running * 4))" --max-queue "$((n + 64))" \
    --kv-cache-mb "$kv_mb" >"$out/serve-$mode.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 240); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  stamp "bench --url, mode $mode"
  timeout 120 "$bin/verbatim" bench --url "http://127.0.0.1:$port" -n "$n" -c "$conc" --no-progress \
    >"$out/bench-$mode.txt" 2>&1
  echo "bench exit $?" >>"$out/bench-$mode.txt"
  cat "$out/bench-$mode.txt"
  kill -TERM "$pid" 2>/dev/null
  wait "$pid"
  echo "serve exit $?" >>"$out/serve-$mode.log"
  tail -3 "$out/serve-$mode.log"
}
bench_mode invariant
bench_mode fast

stamp "demo"
timeout 180 "$bin/verbatim" demo --model "$model" --backend "$backend" -n "$n" --kv-cache-mb "$kv_mb" \
  --report "$out/demo.html" --no-progress >"$out/demo.txt" 2>&1
echo "demo exit $?" >>"$out/demo.txt"
cat "$out/demo.txt"

if [ -z "${SKIP_TESTS:-}" ]; then
  stamp "tests"
  timeout 60 build-gpu/bin/test_cuda_backend >"$out/test_cuda_backend.log" 2>&1
  echo "test_cuda_backend exit $?" | tee -a "$out/test_cuda_backend.log"
  VERBATIM_SHARED_DIR=${VERBATIM_SHARED_DIR:-$PWD/.deps/shared} VERBATIM_TEST_BACKEND=cuda \
    timeout 90 build-gpu/bin/test_invariance >"$out/test_invariance_cuda.log" 2>&1
  echo "test_invariance (cuda) exit $?" | tee -a "$out/test_invariance_cuda.log"
  grep -E "^\[  (PASSED|FAILED|SKIPPED) " "$out"/test_*.log
fi
stamp "done"
