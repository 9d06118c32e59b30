#!/usr/bin/env bash
# The main job: set up (Debian packages, .venv), build, and generate text with a real model.
# Today that is greedy generation with stories260K from the shared test data; `verbatim demo` takes over once the
# serving engine lands. Extra arguments go to `verbatim generate` (e.g. --prompt "Once upon a time" --temperature 0.8).
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_BASEDIR="$PWD"  # ccache (when installed) then hits across checkouts of any path
scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc)"

shared=${VERBATIM_SHARED_DIR:-$(cd .. && pwd)/shared}
model=$shared/models/stories260K
if [ ! -f "$model/stories260K.bin" ]; then
  echo "main: $model/stories260K.bin not found: put the shared data beside the repo or set VERBATIM_SHARED_DIR" >&2
  exit 1
fi
echo "main: build/bin/verbatim generate --model $model/stories260K.bin --tokenizer $model/tok512.bin --temperature 0 --max-tokens 200 $*"
exec build/bin/verbatim generate --model "$model/stories260K.bin" --tokenizer "$model/tok512.bin" \
  --temperature 0 --max-tokens 200 "$@"
