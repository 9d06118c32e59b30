#!/usr/bin/env python3
"""ctest entry of the end-to-end server tests: runs pytest over tests/e2e with --verbatim PATH. Exits 77 (skip)
when the test tooling is not installed or pytest collected no test; otherwise pytest's exit code."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

import importlib.util

missing = [m for m in ("pytest", "openai") if importlib.util.find_spec(m) is None]
if missing:
    print(f"[SKIP] e2e server tests: {', '.join(missing)} not installed "
          "(scripts/setup.sh installs tools/requirements-test.txt into .venv)")
    sys.exit(77)

import pytest  # noqa: E402

rc = pytest.main([HERE, "-q", "-p", "no:cacheprovider", "-rs", *sys.argv[1:]])
sys.exit(77 if rc == pytest.ExitCode.NO_TESTS_COLLECTED else int(rc))
