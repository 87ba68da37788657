"""Issue 12: the HTTP endpoint of a real `frazil serve` stays available while
clients hold connections open. cpp-httplib's thread pool (the server before
issue 12) gave every keep-alive connection a thread, so 64 idle clients
kept /healthz from answering; the event-loop server serves them all from one
thread and enforces http_limits (config/frazil.yaml).
"""
import json
import socket
import time

from conftest import http_get

IDLE_KEEPALIVE = 80  # a request answered, then the connection left open
IDLE_SILENT = 20     # connected, nothing sent
HALF_SENT = 10       # a request line and part of the headers, never finished


def threads_of(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    raise AssertionError("no Threads: line")


def connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_response(s: socket.socket) -> bytes:
    """One response framed by Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = s.recv(4096)
        assert chunk
        body += chunk
    return head + b"\r\n\r\n" + body


def open_idle_clients(port: int):
    """Returns the sockets: keep-alive ones (each answered once), silent ones, half-sent ones."""
    socks = []
    for _ in range(IDLE_KEEPALIVE):
        s = connect(port)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: keep-alive\r\n\r\n")
        socks.append(s)
    # Read the answers after all requests are out: with a server that gives
    # each connection a thread, the later ones queue but still get there.
    answered = 0
    for s in socks:
        s.settimeout(10)
        try:
            if read_response(s).startswith(b"HTTP/1.1 200"):
                answered += 1
        except (socket.timeout, AssertionError, ConnectionError):
            pass
    for _ in range(IDLE_SILENT):
        socks.append(connect(port))
    half = []
    for _ in range(HALF_SENT):
        s = connect(port)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: te")
        half.append(s)
    return socks, half, answered


def test_healthz_answers_while_many_connections_sit_idle(start_broker):
    b = start_broker()
    b.wait_healthy()
    threads_before = threads_of(b.proc.pid)
    socks, half, answered = open_idle_clients(b.http_port)
    try:
        start = time.monotonic()
        status, body = http_get(b.http_port, "/healthz", timeout=10)
        latency = time.monotonic() - start
        print(f"/healthz with {len(socks) + len(half)} connections open "
              f"({IDLE_KEEPALIVE} idle keep-alive, {IDLE_SILENT} silent, {HALF_SENT} half-sent): "
              f"{latency * 1000:.1f} ms; {answered}/{IDLE_KEEPALIVE} keep-alive requests answered")
        assert status == 200 and json.loads(body)["status"] == "ok"
        # Generous: the point is that it answers at all, not how fast.
        assert latency < 2.0, f"/healthz took {latency:.2f}s with idle connections open"
        assert answered == IDLE_KEEPALIVE
        # The connections cost no threads.
        threads_after = threads_of(b.proc.pid)
        print(f"broker threads: {threads_before} before, {threads_after} with the connections open")
        assert threads_after <= threads_before
        # The server sees them all, and other routes answer too.
        status, text = http_get(b.http_port, "/metrics", timeout=10)
        assert status == 200
        open_now = [float(line.split()[-1]) for line in text.splitlines()
                    if line.startswith("frazil_http_connections ")]
        assert open_now and open_now[0] >= len(socks) + len(half), open_now
        status, body = http_get(b.http_port, "/admin/topics", timeout=10)
        assert status == 200 and json.loads(body) == {"topics": []}
    finally:
        for s in socks + half:
            s.close()
    assert b.stop() == 0


def test_http_limits_close_idle_and_slow_clients(start_broker, tmp_path):
    config = tmp_path / "http.yaml"
    config.write_text("http_limits:\n"
                      "  max_connections: 40\n"
                      "  idle_timeout_ms: 1000\n"
                      "  request_timeout_ms: 1500\n"
                      "  max_header_bytes: 2048\n"
                      "  max_body_bytes: 64\n")
    b = start_broker(extra_args=["--config", str(config)])
    b.wait_healthy()
    # Over the header limit: 431.
    s = connect(b.http_port)
    s.sendall(b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 4000 + b"\r\n\r\n")
    assert read_response(s).startswith(b"HTTP/1.1 431 ")
    s.close()
    # Over the body limit: 413.
    s = connect(b.http_port)
    s.sendall(b"DELETE /admin/topics/a/b HTTP/1.1\r\nContent-Length: 65\r\n\r\n")
    assert read_response(s).startswith(b"HTTP/1.1 413 ")
    s.close()

    idle = connect(b.http_port)
    idle.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")
    assert read_response(idle).startswith(b"HTTP/1.1 200")
    slow = connect(b.http_port)
    slow.sendall(b"GET /healthz HTTP/1.1\r\nHo")
    # Fill the rest of the connection budget: the next one gets 503.
    held = [connect(b.http_port) for _ in range(38)]
    time.sleep(0.2)
    extra = connect(b.http_port)
    try:
        got = extra.recv(4096)
    except ConnectionError:
        got = b"(reset)"
    print(f"connection over max_connections got: {got[:40]!r}")
    assert got.startswith(b"HTTP/1.1 503 "), got
    extra.close()
    for h in held:
        h.close()

    # The slow sender is answered 408 and closed at the request deadline,
    # the idle one closed at the idle timeout; neither earlier than its due.
    start = time.monotonic()
    slow.settimeout(10)
    data = b""
    while True:
        chunk = slow.recv(4096)
        if not chunk:
            break
        data += chunk
    slow_closed = time.monotonic() - start
    assert data.startswith(b"HTTP/1.1 408 "), data
    idle.settimeout(10)
    assert idle.recv(4096) == b""
    print(f"slow sender closed {slow_closed:.2f}s after the check began (request_timeout_ms 1500)")
    assert slow_closed < 8.0
    status, _ = http_get(b.http_port, "/healthz")
    assert status == 200
    idle.close()
    slow.close()
    assert b.stop() == 0


def test_healthz_is_ok_only_once_the_danube_port_accepts_connections(tmp_path):
    """Whoever waits for /healthz connects to the Danube port at once (the
    tests, orchestrators' readiness probes): a 200 before gRPC listens made
    13 of 20 starts refuse that first connection. The endpoint says
    "starting" (503) until then."""
    from conftest import Broker
    starts, starting_seen = 10, 0
    for i in range(starts):
        b = Broker(tmp_path / f"data{i}", tmp_path / f"broker{i}.log")
        try:
            deadline = time.monotonic() + 10
            while True:
                assert time.monotonic() < deadline, "broker never became healthy"
                try:
                    status, body = http_get(b.http_port, "/healthz", timeout=1)
                except OSError:
                    time.sleep(0.0005)
                    continue
                if status == 200:
                    break
                assert status == 503 and json.loads(body)["status"] == "starting", (status, body)
                starting_seen += 1
                time.sleep(0.0005)
            socket.create_connection(("127.0.0.1", b.listen_port), timeout=2).close()
        finally:
            b.kill()
    print(f"{starts} starts: the Danube port accepted at the first healthy answer; "
          f"'starting' answered {starting_seen} time(s)")
