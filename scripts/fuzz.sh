#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) and runs each for N seconds (default 20) from its seed corpus.
# Any crash, leak or sanitizer report fails the script and leaves the reproducer in build-fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j"$(nproc)"
mkdir -p build-fuzz/artifacts
for target in build-fuzz/bin/fuzz_*; do
  name=$(basename "$target")
  work=build-fuzz/corpus-$name
  mkdir -p "$work"
  seeds=()
  [ -d "fuzz/corpus/$name" ] && seeds+=("fuzz/corpus/$name")
  echo "fuzz: $name for ${seconds}s"
  "$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix=build-fuzz/artifacts/"$name"- "$work" "${seeds[@]}" 2>build-fuzz/"$name".log ||
    { tail -n 40 build-fuzz/"$name".log; echo "fuzz: $name FAILED"; exit 1; }
  grep -E "stat::number_of_executed_units" build-fuzz/"$name".log | sed "s/^/fuzz: $name /"
done
