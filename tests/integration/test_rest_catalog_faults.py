"""A REST catalog that goes away, and one that lies, under `frazil serve`
(issue 14, "What it must show"), against Apache Iceberg's REST catalog
server (build/tools/frazil-rest-catalog, scripts/setup-rest-catalog.sh):

- outage: raw gRPC producers and a Danube SDK producer keep sending while
  the server process is killed (or stopped with SIGSTOP: requests hang).
  Commits fail, the WAL fills up to its cap, then sends are refused with
  RESOURCE_EXHAUSTED "storage unavailable" and nothing more is acknowledged
  or committed. The server comes back (on the same port with the same
  catalog database, or continued): commits resume by themselves, and
  PyIceberg's RestCatalog reads every acknowledged message exactly once.
- lost answers: a proxy in front of the server forwards some commit POSTs,
  lets the server apply them, and answers 503 instead of the server's 200.
  The broker settles each as done (re-reading the table finds its
  snapshot), says so in its log, and the table holds every message once:
  no offset committed twice, none lost.
- start-up errors: refused client credentials, a wrong token, an unknown
  warehouse (the fixture server refuses none of these: a proxy in front of
  it answers as a server that does), a server that never answers. The
  broker exits 1 at once with a message saying what is wrong.
  (Nothing listening at all: test_rest_catalog.py.)
"""
import asyncio
import http.client
import http.server
import json
import re
import socket
import threading
import time
import urllib.parse

import pytest

from catalogs import RestServer
from conftest import free_port
from test_topic_storage import (OUTAGE, ProducersUnderLoad, assert_snapshot_chain, config_args, describe,
                                poll, produce_sdk, run, snapshot_ranges, table_columns, wait_committed)

pytestmark = pytest.mark.rest


def rest_yaml(uri):
    # Short timeouts: a dead server is noticed in about a second.
    return f"catalog:\n  type: rest\n  uri: {uri}\n  connect_timeout_ms: 1000\n  request_timeout_ms: 5000\n"


def pyiceberg(uri):
    from pyiceberg.catalog.rest import RestCatalog
    return RestCatalog("rest", uri=uri)


# ---------------------------------------------------------------- outage

@pytest.mark.parametrize("how", ["kill", "sigstop"])
def test_rest_catalog_outage_pushes_back_then_commits_every_acknowledged_message(start_broker, tmp_path, how):
    """kill: the server process is killed, then started again on the same
    port with the same catalog database. sigstop: it is stopped (SIGSTOP)
    then continued: requests hang until the broker's request timeout, and
    commits sent before the stop may be applied after it (unknown outcomes,
    settled by re-reading)."""
    server = RestServer(tmp_path / "rest.log", free_port(), tmp_path / "rest-warehouse",
                        db=tmp_path / "rest-db" / "catalog.db")
    try:
        outage_test(start_broker, tmp_path, server, how)
    finally:
        server.stop()


def outage_test(start_broker, tmp_path, server, how):
    data = tmp_path / "data"
    topic, ident = "/default/restoutage", "default.restoutage"
    b = start_broker(data_dir=data, extra_args=config_args(tmp_path, "outage", OUTAGE + rest_yaml(server.uri)))
    b.wait_healthy(timeout=30)
    cat = pyiceberg(server.uri)

    def table_state():
        return describe(b, topic)["table"]

    load = ProducersUnderLoad(b, topic, table_state)

    async def main():
        await load.start(cat, ident)
        await load.wait_for(lambda: len(load.acked) > 600, 30, "sending under load")
        load.enter("outage")
        await asyncio.to_thread(server.kill if how == "kill" else server.pause)
        await load.wait_for(lambda: load.pushed_back("outage"), 60, "producers pushed back")
        await load.wait_for(lambda: table_state()["error"], 20, "table.error set")
        # The WAL is full: nothing more is acknowledged and nothing commits
        # while the server is down.
        await load.check_held_back(2.0)
        error = table_state()["error"]
        # Same port, same catalog database: the table is still there.
        await asyncio.to_thread(server.restart if how == "kill" else server.resume)
        load.enter("after")
        await load.wait_for(lambda: table_state()["error"] is None, 60, "after the outage: table.error cleared")
        await load.wait_for(lambda: load.acked_after >= 200, 60, "after the outage: sends succeed again")
        await load.stop()
        return error

    error = run(main(), timeout=300)

    d = load.check_caught_up()
    end = d["wal"]["next_offset"]
    table = wait_committed(cat, ident, end, b)
    assert d["table"]["snapshot_id"] == table.current_snapshot().snapshot_id
    assert_snapshot_chain(table, end)
    load.check_table(table, end)
    load.check_refusals({"outage", "after"})
    # The table's error named the catalog it could not reach.
    assert server.uri.removeprefix("http://") in error, error
    if how == "sigstop":
        assert "timed out" in error, error
    log = b.log()
    assert "commit failed, retrying with backoff" in log and "commits resumed" in log, log[-3000:]
    print(f"REST outage test ({how}): {len(load.acked)} acknowledged, {end} committed, "
          f"{len(load.raw_errors)} refusals, "
          f"{len(load.sdk_errors)} SDK errors; error during the outage: {error}")
    assert b.stop() == 0


# ---------------------------------------------------------------- lost answers

COMMIT = re.compile(r"^/v1/(?:.+/)?namespaces/[^/]+/tables/[^/?]+$")


class Proxy:
    """An HTTP proxy on a free loopback port in front of `upstream`
    (host:port). `refuse(handler, body)` may answer a request itself
    (returns (status, JSON object)) before it is forwarded. The answer to
    the commit POSTs numbered in `lie_to` (1 = the first commit, which
    creates the table) is replaced, after the server has applied it, by a
    503; `lies` keeps the server's true answers to those."""

    def __init__(self, upstream: str, lie_to=(), refuse=None):
        self.upstream, self.lie_to, self.refuse = upstream, set(lie_to), refuse
        self.commits = 0
        self.refused = 0
        self.lies = []  # the server's real JSON answers to the commits answered 503
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the broker's connection pool expects

            def log_message(self, *args):
                pass

            def answer(self, status, reply, reply_headers):
                self.send_response(status)
                for k, v in reply_headers:
                    if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if proxy.refuse:
                    refused = proxy.refuse(self, body)
                    if refused:
                        with proxy.lock:
                            proxy.refused += 1
                        self.answer(refused[0], json.dumps(refused[1]).encode(),
                                    [("Content-Type", "application/json")])
                        return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn = http.client.HTTPConnection(proxy.upstream, timeout=30)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    status, reply, reply_headers = resp.status, resp.read(), resp.getheaders()
                finally:
                    conn.close()
                lie = False
                if self.command == "POST" and COMMIT.match(self.path.split("?")[0]):
                    with proxy.lock:
                        proxy.commits += 1
                        lie = proxy.commits in proxy.lie_to and status == 200
                        if lie:
                            proxy.lies.append(json.loads(reply))
                if lie:
                    status = 503
                    reply = json.dumps({"error": {"message": "injected: the commit was applied, the answer lost",
                                                  "type": "ServiceUnavailableException", "code": 503}}).encode()
                    reply_headers = [("Content-Type", "application/json")]
                self.answer(status, reply, reply_headers)

            do_GET = do_POST = do_DELETE = do_HEAD = do_PUT = forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


LIES = """\
storage:
  flush_interval_ms: 100
  max_rows: 200
"""


def test_rest_commit_answered_503_after_it_happened_is_settled_as_done(start_broker, tmp_path):
    server = RestServer(tmp_path / "rest.log", free_port(), tmp_path / "rest-warehouse")
    # The table's creating commit, then two in a row later on.
    proxy = Proxy(server.uri.removeprefix("http://"), lie_to=[1, 4, 5])
    try:
        data = tmp_path / "data"
        topic, ident, total = "/default/lies", "default.lies", 2000
        b = start_broker(data_dir=data, extra_args=config_args(tmp_path, "lies", LIES + rest_yaml(proxy.uri)))
        b.wait_healthy(timeout=30)
        sent = run(produce_sdk(b, topic, list(range(total)), producers=2, window=20))
        assert sorted(sent) == list(range(total))
        cat = pyiceberg(server.uri)  # the server itself, not the proxy
        table = wait_committed(cat, ident, total, b)
        # The broker's view, once it has taken in its last commit.
        d = poll(lambda: (lambda d: d if d["table"]["committed_offset"] == total else None)(describe(b, topic)),
                 10, "the broker's committed offset")
        assert d["table"]["error"] is None
        assert d["table"]["snapshot_id"] == table.current_snapshot().snapshot_id
        assert b.stop() == 0
    finally:
        proxy.stop()
        server.stop()

    assert len(proxy.lies) == 3, f"the proxy lied to {len(proxy.lies)} commits of {proxy.commits}, wanted 3"
    # Each commit answered 503 is in the table: its snapshot and its offsets.
    snapshots = {s.snapshot_id: s for s in table.snapshots()}
    for answer in proxy.lies:
        applied = answer["metadata"]["current-snapshot-id"]
        assert applied in snapshots, f"snapshot {applied}, applied by the server, is not in the table"
        assert snapshots[applied].summary["frazil.offsets"], snapshots[applied].summary
    # No offset committed twice, none lost, nothing else.
    assert_snapshot_chain(table, total)
    offsets, payloads = table_columns(table, "offset", "payload")
    assert offsets == list(range(total))
    assert payloads == [sent[o].payload for o in range(total)]
    ranges = snapshot_ranges(table)
    assert len(ranges) == len(set(ranges))
    # The log says the answer was a 503 and that each commit happened,
    # the creating one included (not taken for a table made by another).
    log = b.log()
    settled = re.findall(r"unknown outcome: REST catalog answered HTTP 503 .*; re-read table default\.lies: its "
                         r"snapshot (\d+) is there, the (commit happened|table was created)", log)
    assert sorted((int(s), what) for s, what in settled) == sorted(
        [(proxy.lies[0]["metadata"]["current-snapshot-id"], "table was created")] +
        [(a["metadata"]["current-snapshot-id"], "commit happened") for a in proxy.lies[1:]]), log[-4000:]
    assert "already exists" not in log and "commit failed" not in log, log[-4000:]
    print(f"lying proxy: {proxy.commits} commits, 503 to {len(proxy.lies)}; {len(ranges)} commit snapshots")


# ---------------------------------------------------------------- start-up errors

@pytest.fixture(scope="module")
def rest_server(tmp_path_factory):
    """One server for the start-up tests (each JVM start costs seconds):
    they create no table."""
    tmp = tmp_path_factory.mktemp("rest-startup")
    server = RestServer(tmp / "rest.log", free_port(), tmp / "rest-warehouse")
    yield server
    server.stop()


def start_and_fail(start_broker, tmp_path, catalog_yaml):
    """Starts a broker that must give up at once: (exit code, log)."""
    b = start_broker(extra_args=config_args(tmp_path, "startup", catalog_yaml))
    start = time.monotonic()
    rc = b.proc.wait(timeout=30)
    assert time.monotonic() - start < 20, "the broker took too long to give up"
    return rc, b.log()


def start_and_serve(start_broker, tmp_path, catalog_yaml):
    """The control: the same set-up with what the server accepts works."""
    b = start_broker(extra_args=config_args(tmp_path, "startup-ok", catalog_yaml))
    assert b.wait_healthy(timeout=30)["catalog"]["type"] == "rest"
    assert b.stop() == 0


def oauth2_gate(secret):
    """Iceberg's fixture server gives a token for any client credentials:
    in front of it, refuse (as an OAuth2 server does) a wrong secret, and
    any request without a bearer token."""

    def refuse(handler, body):
        if handler.path.startswith("/v1/oauth/tokens"):
            form = urllib.parse.parse_qs((body or b"").decode())
            if form.get("client_secret") != [secret]:
                return 401, {"error": "invalid_client", "error_description": "client authentication failed"}
            return None
        if not handler.headers.get("Authorization", "").startswith("Bearer "):
            return 401, {"error": {"message": "no bearer token", "type": "NotAuthorizedException", "code": 401}}
        return None

    return refuse


def test_wrong_client_credentials_are_a_clear_error_at_start(start_broker, tmp_path, rest_server):
    proxy = Proxy(rest_server.uri.removeprefix("http://"), refuse=oauth2_gate("right"))
    try:
        rc, log = start_and_fail(start_broker, tmp_path, rest_yaml(proxy.uri) + "  credential: frazil:wrong\n")
        assert rc == 1, log
        assert f"cannot open REST catalog at {proxy.uri}" in log, log
        assert f"OAuth2 token endpoint {proxy.uri}/v1/oauth/tokens refused the client credentials: HTTP 401" in log, log
        # No credential at all: the server's 401 to the config request.
        rc, log = start_and_fail(start_broker, tmp_path, rest_yaml(proxy.uri))
        assert rc == 1 and "not authenticated (check token/credential)" in log and "HTTP 401" in log, log
        refused = proxy.refused
        start_and_serve(start_broker, tmp_path, rest_yaml(proxy.uri) + "  credential: frazil:right\n")
        assert proxy.refused == refused
    finally:
        proxy.stop()


def test_wrong_token_is_a_clear_error_at_start(start_broker, tmp_path, rest_server):
    def refuse(handler, body):
        if handler.headers.get("Authorization") != "Bearer good-token":
            return 401, {"error": {"message": "token not valid", "type": "NotAuthorizedException", "code": 401}}
        return None

    proxy = Proxy(rest_server.uri.removeprefix("http://"), refuse=refuse)
    try:
        rc, log = start_and_fail(start_broker, tmp_path, rest_yaml(proxy.uri) + "  token: bad-token\n")
        assert rc == 1, log
        assert f"cannot open REST catalog at {proxy.uri}" in log, log
        assert "not authenticated (check token/credential)" in log and "token not valid" in log, log
        start_and_serve(start_broker, tmp_path, rest_yaml(proxy.uri) + "  token: good-token\n")
    finally:
        proxy.stop()


def test_unknown_warehouse_is_a_clear_error_at_start(start_broker, tmp_path, rest_server):
    """Iceberg's fixture server serves one warehouse whatever is asked; in
    front of it, answer GET /v1/config?warehouse=W as a multi-warehouse
    server does for a warehouse it does not have (404)."""

    def refuse(handler, body):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(handler.path).query)
        if handler.path.startswith("/v1/config") and query.get("warehouse", ["known"]) != ["known"]:
            return 404, {"error": {"message": f"warehouse {query['warehouse'][0]} does not exist",
                                   "type": "NoSuchWarehouseException", "code": 404}}
        return None

    proxy = Proxy(rest_server.uri.removeprefix("http://"), refuse=refuse)
    try:
        rc, log = start_and_fail(start_broker, tmp_path, rest_yaml(proxy.uri) + "  warehouse: nope\n")
        assert rc == 1, log
        assert f"cannot open REST catalog at {proxy.uri}" in log, log
        assert "HTTP 404 NoSuchWarehouseException: warehouse nope does not exist" in log, log
        start_and_serve(start_broker, tmp_path, rest_yaml(proxy.uri) + "  warehouse: known\n")
    finally:
        proxy.stop()


def test_rest_server_that_never_answers_is_an_error_at_start_not_a_hang(start_broker, tmp_path):
    """Something listens on the port (connections are accepted by the
    kernel) but never answers: the request timeout ends the start."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        uri = f"http://127.0.0.1:{listener.getsockname()[1]}"
        yaml = f"catalog:\n  type: rest\n  uri: {uri}\n  connect_timeout_ms: 1000\n  request_timeout_ms: 2000\n"
        rc, log = start_and_fail(start_broker, tmp_path, yaml)
    assert rc == 1, log
    assert f"cannot open REST catalog at {uri}" in log and "timed out after" in log, log
