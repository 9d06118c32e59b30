"""End-to-end tests of `verbatim serve`: each starts the real server binary on a free port (--port 0; the server
prints the port it bound) and talks HTTP to it. Models: stories260K from the shared test data (VERBATIM_SHARED_DIR,
skipped with a message when absent) and a synthetic Qwen3 made at test time with `verbatim synth`.

Run: pytest tests/e2e --verbatim build/bin/verbatim (ctest does this)."""
import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED = os.environ.get("VERBATIM_SHARED_DIR") or os.path.join(ROOT, "..", "shared")
STORIES_GGUF = os.path.join(SHARED, "models", "stories260K", "stories260K-f32.gguf")


def pytest_addoption(parser):
    parser.addoption("--verbatim", action="store", default=os.path.join(ROOT, "build", "bin", "verbatim"),
                     help="path of the verbatim binary")


@pytest.fixture(scope="session")
def verbatim(request):
    path = os.path.abspath(request.config.getoption("--verbatim"))
    if not os.access(path, os.X_OK):
        pytest.fail(f"verbatim binary not found at {path} (build it, or pass --verbatim)")
    return path


class Server:
    """A running `verbatim serve`. stop() sends SIGTERM and returns the exit code."""

    def __init__(self, verbatim, model, *args, name="model", tmp=None, keep_alive=1):
        self.name = name
        self.stderr_path = os.path.join(tmp or "/tmp", f"serve-{os.getpid()}-{time.monotonic_ns()}.log")
        self._stderr = open(self.stderr_path, "wb")
        cmd = [verbatim, "serve", "--model", model, "--port", "0", "--served-model-name", name,
               "--keep-alive-timeout", str(keep_alive), *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._stderr)
        line = self.proc.stdout.readline().decode()
        if "listening on" not in line:
            self.proc.wait(timeout=30)
            raise RuntimeError(f"server did not start: {line!r}\n{self.log()}")
        self.url = line.strip().rsplit(" ", 1)[-1]
        self.port = int(self.url.rsplit(":", 1)[-1])
        # stdout is not read again: drain it so the server never blocks on a full pipe.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def log(self):
        self._stderr.flush()
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._stderr.close()

    # Plain HTTP helpers (urllib: no connection reuse, so every request is its own connection).
    def request(self, method, path, body=None, headers=None, raw=None, timeout=120):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read(), dict(e.headers)

    def post(self, path, body, **kw):
        status, data, _ = self.request("POST", path, body, **kw)
        return status, json.loads(data) if data else None

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def metrics(self):
        status, data, _ = self.get("/metrics")
        assert status == 200
        values = {}
        for line in data.decode().splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                values[key] = float(value)
        return values


@pytest.fixture(scope="session")
def stories_model():
    if not os.path.exists(STORIES_GGUF):
        pytest.skip(f"shared test data absent: {STORIES_GGUF} (set VERBATIM_SHARED_DIR)")
    return STORIES_GGUF


@pytest.fixture(scope="session")
def synth_model(verbatim, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("synth") / "qwen3-tiny")
    subprocess.run([verbatim, "synth", "--arch", "qwen3-tiny", "--layers", "2", "--seed", "7", "--out", out],
                   check=True, capture_output=True)
    return out


@pytest.fixture(scope="session")
def audit_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("audit")


@pytest.fixture(scope="session")
def stories_server(verbatim, stories_model, audit_dir, tmp_path_factory):
    s = Server(verbatim, stories_model, "--audit-log", str(audit_dir / "stories.jsonl"), name="stories",
               tmp=str(tmp_path_factory.mktemp("logs")))
    yield s
    assert s.stop() == 0, s.log()


@pytest.fixture(scope="session")
def synth_server(verbatim, synth_model, tmp_path_factory):
    s = Server(verbatim, synth_model, name="synth", tmp=str(tmp_path_factory.mktemp("logs")))
    yield s
    assert s.stop() == 0, s.log()


@pytest.fixture
def make_server(verbatim, tmp_path):
    """Starts a server with custom flags for one test; stopped (and its exit code checked) afterwards."""
    started = []

    def make(model, *args, name="model", keep_alive=1):
        s = Server(verbatim, model, *args, name=name, tmp=str(tmp_path), keep_alive=keep_alive)
        started.append(s)
        return s

    yield make
    for s in started:
        if s.proc.poll() is None:
            assert s.stop() == 0, s.log()


def run_concurrently(fns, max_workers=None):
    """Runs every callable in its own thread, all started together; returns their results in order."""
    results = [None] * len(fns)
    errors = []
    barrier = threading.Barrier(len(fns))

    def work(i):
        try:
            barrier.wait(timeout=60)
            results[i] = fns[i]()
        except Exception as e:  # reported by the caller
            errors.append((i, repr(e)))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(fns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors, f"{len(errors)} of {len(fns)} requests raised: {errors[:5]}"
    return results
