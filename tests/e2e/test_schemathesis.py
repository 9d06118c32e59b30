"""Point 1 (OpenAPI) of issue 5: the server publishes its own OpenAPI document at GET /openapi.json, and schemathesis
fuzzing every operation from it (valid and invalid bodies) finds no 5xx, no crash, and responses that match the
document's status codes, content types and schemas; invalid data is rejected."""
import json
import os
import shutil
import subprocess
import sys

import pytest

CHECKS = ",".join(["not_a_server_error", "status_code_conformance", "content_type_conformance",
                   "response_schema_conformance", "negative_data_rejection"])


def test_openapi_document(stories_server):
    status, body, headers = stories_server.get("/openapi.json")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    doc = json.loads(body)
    assert doc["openapi"].startswith("3.")
    for path in ("/v1/completions", "/v1/chat/completions", "/v1/models", "/health", "/metrics"):
        assert path in doc["paths"], path
    props = doc["components"]["schemas"]["CompletionRequest"]["properties"]
    assert props["max_tokens"]["maximum"] == 2048  # the served model's context


def test_schemathesis_finds_no_server_error(make_server, synth_model, tmp_path):
    st = os.path.join(os.path.dirname(sys.executable), "st")
    if not os.path.exists(st):
        st = shutil.which("st")
    if st is None:
        pytest.skip("schemathesis is not installed (scripts/setup.sh installs tools/requirements-test.txt)")
    # A short context keeps each generated request cheap (generation stops at 256 tokens).
    s = make_server(synth_model, "--max-model-len", "256", name="synth")
    r = subprocess.run([st, "run", s.url + "/openapi.json", "--checks", CHECKS, "--max-examples", "25", "--seed", "1",
                        "--no-color", "--generation-database", "none", "--request-timeout", "120",
                        "--suppress-health-check", "all"],
                       capture_output=True, text=True, timeout=600, cwd=str(tmp_path))
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    assert s.get("/health")[0] == 200
    assert s.proc.poll() is None, "the server died"
