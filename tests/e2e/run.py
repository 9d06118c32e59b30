#!/usr/bin/env python3
"""ctest entry of the end-to-end server tests: runs pytest over tests/e2e with --verbatim PATH. Exits 77 (skip)
when the test tooling is not installed or pytest collected no test; otherwise pytest's exit code."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

try:
    import openai  # noqa: F401
    import pytest
except ImportError as e:
    print(f"[SKIP] e2e server tests: {e} (scripts/setup.sh installs tools/requirements-test.txt into .venv)")
    sys.exit(77)

rc = pytest.main([HERE, "-q", "-p", "no:cacheprovider", "-rs", *sys.argv[1:]])
sys.exit(77 if rc == pytest.ExitCode.NO_TESTS_COLLECTED else int(rc))
