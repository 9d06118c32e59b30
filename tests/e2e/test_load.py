"""Point 3 (load and faults) of issue 5: 500 concurrent requests complete with 0 errors; 200 clients that disconnect
mid-stream leave 0 KV blocks in use (read from /metrics once they are gone); SIGTERM drains in-flight requests and
exits 0."""
import http.client
import json
import signal
import socket
import threading
import time

from conftest import run_concurrently


def test_500_concurrent_requests(make_server, stories_model):
    # Its own server with a 30 s keep-alive timeout: httplib also waits at most that long for a connection's FIRST
    # request, and 500 client threads of one Python process (one GIL) on 2 busy cores can take more than the other
    # servers' 1 s between connect() and sending; the server then closes the socket and the client's send fails
    # with a broken pipe (reproduced: a socket that sends 2.5 s after connect() to a 1 s server gets EPIPE). No client is left idle, so the long timeout does not delay stop().
    stories_server = make_server(stories_model, name="stories", keep_alive=30)

    def one(i):
        status, j = stories_server.post("/v1/completions", {"prompt": f"Once upon a time {i}", "max_tokens": 8,
                                                            "temperature": 0.8, "seed": i})
        assert status == 200, j
        assert j["usage"]["completion_tokens"] >= 1
        return j["choices"][0]["text"]

    texts = run_concurrently([lambda i=i: one(i) for i in range(500)])
    assert len(texts) == 500 and all(isinstance(t, str) for t in texts)
    m = stories_server.metrics()
    assert m['verbatim_requests_total{endpoint="/v1/completions",status="200"}'] >= 500
    assert stories_server.get("/health")[0] == 200


def wait_for(pred, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_disconnects_free_kv_blocks(make_server, stories_model):
    # all 200 run (and stream) at once; keep_alive as in test_500_concurrent_requests (200 client threads)
    s = make_server(stories_model, "--max-running", "256", name="stories", keep_alive=30)
    body = json.dumps({"prompt": "Once upon a time", "max_tokens": 1500, "ignore_eos": True, "stream": True}).encode()
    ready = threading.Barrier(201)
    leave = threading.Event()  # the clients hold their streams open until the metrics below were read
    errors = []

    def client(k):
        try:
            sock = socket.create_connection(("127.0.0.1", s.port), timeout=60)
            sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            got = b""
            while b"data: " not in got:  # streaming has begun: the request holds KV blocks
                chunk = sock.recv(4096)
                if not chunk:
                    raise RuntimeError("closed before streaming")
                got += chunk
            ready.wait(timeout=120)
            leave.wait(timeout=120)  # until the main thread has read the metrics of all 200 streaming at once
            sock.close()  # gone mid-stream
        except Exception as e:
            errors.append(repr(e))
            ready.abort()
            leave.set()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(200)]
    for t in threads:
        t.start()
    try:
        ready.wait(timeout=120)  # all 200 are streaming at once
        during = s.metrics()
    finally:
        leave.set()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[:3]
    assert during["verbatim_kv_blocks_used"] > 0
    m = wait_for(lambda: (lambda m: m if m["verbatim_kv_blocks_used"] == 0 and m["verbatim_running"] == 0
                          and m["verbatim_requests_in_flight"] == 0 else None)(s.metrics()),
                 "the disconnected requests to be cancelled")
    assert m["verbatim_kv_blocks_used"] == 0 and m["verbatim_queue_length"] == 0
    # Cancelled long before their 1500 tokens: the engine did not keep generating for clients that left.
    assert m["verbatim_engine_generated_tokens_total"] < 200 * 1500
    assert s.get("/health")[0] == 200


def test_nonstreaming_disconnect_cancels(make_server, stories_model):
    s = make_server(stories_model, name="stories")
    body = json.dumps({"prompt": "Once", "max_tokens": 2000, "ignore_eos": True}).encode()
    socks = []
    for _ in range(8):
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=60)
        sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        socks.append(sock)
    wait_for(lambda: s.metrics()["verbatim_requests_in_flight"] == 8, "the requests to be admitted")
    for sock in socks:
        sock.close()
    m = wait_for(lambda: (lambda m: m if m["verbatim_requests_in_flight"] == 0 and m["verbatim_kv_blocks_used"] == 0
                          else None)(s.metrics()), "the abandoned requests to be cancelled")
    assert m["verbatim_engine_generated_tokens_total"] < 8 * 2000


def test_sigterm_drains_and_exits_0(make_server, stories_model):
    s = make_server(stories_model, "--drain-timeout", "60", name="stories")
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=120)
    conn.request("POST", "/v1/completions", json.dumps({"prompt": "Once", "max_tokens": 400, "ignore_eos": True,
                                                        "stream": True}), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200 and resp.read(6) == b"data: "
    s.proc.send_signal(signal.SIGTERM)
    rest = resp.read().decode()  # the in-flight request is finished, not cut off
    assert rest.rstrip().endswith("data: [DONE]")
    chunks = [json.loads(f[6:]) for f in ("data: " + rest).split("\n\n") if f.startswith("data: {")]
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert s.proc.wait(timeout=60) == 0, s.log()
    assert "draining" in s.log()


def test_drain_timeout_cancels_and_exits_0(make_server, stories_model):
    s = make_server(stories_model, "--drain-timeout", "0", name="stories")
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=120)
    conn.request("POST", "/v1/completions", json.dumps({"prompt": "Once", "max_tokens": 2000, "ignore_eos": True,
                                                        "stream": True}), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200 and resp.read(6) == b"data: "
    s.proc.send_signal(signal.SIGTERM)
    rest = resp.read().decode()
    assert rest.rstrip().endswith("data: [DONE]")
    assert s.proc.wait(timeout=60) == 0, s.log()
