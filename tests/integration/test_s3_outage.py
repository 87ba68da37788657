"""An S3 warehouse that goes away, and one that misbehaves (issue 13, "Outage").

- outage: `frazil serve` with its warehouse on the S3 test server (a bolt
  file in a directory, so a restart keeps the bucket) and a small WAL cap;
  raw gRPC producers and a Danube SDK producer keep sending while the server
  process is killed. Once the WAL is full, sends are refused with
  RESOURCE_EXHAUSTED "storage unavailable" and nothing more is acknowledged;
  /metrics counts the failed S3 calls and retries, the log has the
  rate-limited retry lines. The server comes back on the same port and
  directory: commits resume by themselves (no broker restart), and the
  table, read by PyIceberg through its own S3 FileIO, holds every
  acknowledged message exactly once and nothing twice.
- injected faults: the broker's s3.endpoint is the fault-injecting proxy in
  front of the server (dropped connections, 503s, SlowDown, lost answers);
  every message is committed exactly once, the proxy says it injected every
  fault, and /metrics' retries by reason and the log's WARN lines show the
  broker saw them.
"""
import asyncio
import re
import time

import pytest

from s3_helpers import BUCKET, PREFIX, S3Server, open_s3_catalog, s3_yaml, s3server_binary
from test_metrics import scrape
from test_topic_storage import (OUTAGE, ProducersUnderLoad, client_for, config_args, describe, poll, run,
                                sdk_producer, table_columns, wait_committed)

pytestmark = pytest.mark.s3

RETRY_LINE = re.compile(r"\[warning\] s3 (GET|HEAD|PUT|POST|DELETE) s3://" + BUCKET +
                        r"\S*: attempt (\d+) of (\d+) failed \((server_error|throttled|timeout|connection): "
                        r"([^)]*)\), retrying in (\d+) ms")
REASONS = ("server_error", "throttled", "timeout", "connection")


def s3_metrics(port):
    """{'retries': {reason: n}, 'errors': {kind: n}, 'requests': n} of store="s3"."""
    _, _, samples = scrape(port)
    out = {"retries": {}, "errors": {}, "requests": 0}
    for (name, labels), value in samples.items():
        labels = dict(labels)
        if labels.get("store") != "s3":
            continue
        if name == "frazil_object_store_retries_total":
            out["retries"][labels["reason"]] = value
        elif name == "frazil_object_store_errors_total":
            out["errors"][labels["kind"]] = value
        elif name == "frazil_object_store_requests_total":
            out["requests"] += value
    return out


def executors(port):
    _, _, samples = scrape(port)
    return {dict(labels)["executor"]: v for (name, labels), v in samples.items()
            if name == "frazil_executor_threads"}


# ---------------------------------------------------------------- outage

def test_s3_outage_pushes_back_then_commits_every_acknowledged_message(start_broker, tmp_path):
    server = S3Server(s3server_binary(), data_dir=tmp_path / "s3data")
    try:
        outage_test(start_broker, tmp_path, server)
    finally:
        server.stop()


def outage_test(start_broker, tmp_path, server):
    server.fs.create_dir(BUCKET)
    data = tmp_path / "data"
    topic, ident = "/default/s3outage", "default.s3outage"
    b = start_broker(data_dir=data, extra_args=config_args(tmp_path, "outage", s3_yaml(server.endpoint, OUTAGE)) +
                     ["--warehouse", f"s3://{BUCKET}/{PREFIX}"])
    b.wait_healthy(timeout=60)
    assert executors(b.http_port).get("s3-upload", 0) > 0, "the s3-upload pool is not in /metrics"
    cat = open_s3_catalog(data, server)
    seen = {}

    def table_state():
        return describe(b, topic)["table"]

    load = ProducersUnderLoad(b, topic, table_state)

    async def main():
        await load.start(cat, ident)
        await load.wait_for(lambda: len(load.acked) > 600, 30, "sending under load")
        seen["before"] = await asyncio.to_thread(s3_metrics, b.http_port)
        load.enter("outage")
        outage_start = time.monotonic()
        await asyncio.to_thread(server.kill)
        await load.wait_for(lambda: load.pushed_back("outage"), 60, "producers pushed back")
        await load.wait_for(lambda: table_state()["error"], 20, "table.error set")
        # The WAL is full: nothing more is acknowledged and nothing commits
        # while the server is down.
        await load.check_held_back(3.0)
        seen["outage"] = await asyncio.to_thread(s3_metrics, b.http_port)
        seen["outage_seconds"] = time.monotonic() - outage_start
        await asyncio.to_thread(server.restart)
        load.enter("after")
        await load.wait_for(lambda: table_state()["error"] is None, 60, "after the outage: table.error cleared")
        await load.wait_for(lambda: load.acked_after >= 200, 60, "after the outage: sends succeed again")
        await load.stop()

    run(main(), timeout=300)

    end = load.check_caught_up()["wal"]["next_offset"]
    # The table through PyIceberg's own S3 FileIO.
    load.check_table(wait_committed(cat, ident, end, b), end)
    load.check_refusals({"outage", "after"})
    raw_errors = load.raw_errors
    # Once the commits have failed, the refusal says why: S3 gave up.
    assert any(f"s3://{BUCKET}" in e[2] and "gave up after 3 attempts" in e[2] for e in raw_errors), raw_errors[-3:]

    # /metrics: the outage's failed calls and retries (the server was gone:
    # refused or dropped connections), none before it.
    before, during = seen["before"], seen["outage"]
    assert sum(before["retries"].values()) == 0 and before["errors"]["unavailable"] == 0, before
    assert during["errors"]["unavailable"] > 0, during
    assert during["retries"]["connection"] > 0, during
    assert during["requests"] > before["requests"]

    # The log: one WARN line per retried attempt, rate-limited (at most one a
    # second per store), the lines left out counted on the next one.
    log = b.log()
    lines = RETRY_LINE.findall(log)
    assert lines, f"no retry WARN line in the log:\n{log[-3000:]}"
    assert all(int(n) <= int(m) and m == "3" for _, n, m, _, _, _ in lines), lines[:5]
    retries = sum(during["retries"].values())
    assert len(lines) < retries, f"{len(lines)} retry lines for {retries} retries: not rate-limited"
    assert re.search(r"\b\d+ more retry messages for s3://" + BUCKET + r" suppressed", log), log[-3000:]
    assert f"s3://{BUCKET}" in log and "gave up after 3 attempts" in log
    assert "commits resumed" in log
    print(f"s3 outage test: {len(load.acked)} acknowledged, {end} committed, {len(raw_errors)} refusals, "
          f"{len(load.sdk_errors)} SDK errors, outage {seen['outage_seconds']:.1f}s: {during}, "
          f"{len(lines)} retry lines logged")
    assert b.stop() == 0


# ---------------------------------------------------------------- injected faults

async def produce_sdk(b, topic, payloads):
    """Sends the payloads with one SDK producer, 250 at a time; {offset: payload}."""
    client = await client_for(b)
    p = await sdk_producer(client, topic, "faulty")
    acked = {}
    for s in range(0, len(payloads), 250):
        chunk = payloads[s:s + 250]
        offsets = await asyncio.gather(*[p.send(x, None) for x in chunk])
        for x, o in zip(chunk, offsets):
            assert o not in acked, f"offset {o} acknowledged twice"
            acked[o] = x
        await asyncio.sleep(0.05)  # several commits, so several S3 requests meet the faults
    await p.close()
    return acked


FAULTS = {"--drop": 2, "--fail-503": 3, "--slowdown": 2, "--lose-responses": 2}
N = 3000


def test_injected_s3_faults_are_retried_counted_logged_and_commit_exactly_once(start_broker, tmp_path):
    server = S3Server(s3server_binary())
    proxies = []
    try:
        server.fs.create_dir(BUCKET)
        # The broker checks the bucket at start: through a proxy that injects
        # nothing yet, replaced by the faulty one on the same port once the
        # broker is up (the faults are the proxy's first requests).
        proxies.append(S3Server(s3server_binary(), upstream=server.endpoint))
        data = tmp_path / "data"
        topic, ident = "/default/s3faults", "default.s3faults"
        # More attempts than faults: no call gives up, so every injected
        # fault that reaches the broker is one retry.
        attempts = sum(FAULTS.values()) + 2
        b = start_broker(data_dir=data, extra_args=config_args(
            tmp_path, "faults", s3_yaml(proxies[0].endpoint, "storage:\n  flush_interval_ms: 200\n",
                                        max_attempts=attempts)) + ["--warehouse", f"s3://{BUCKET}/{PREFIX}"])
        b.wait_healthy(timeout=60)
        # The table exists before the faults: they meet the writes of commits
        # (a data file's PUT first), not the table's creation.
        cat = open_s3_catalog(data, server)
        warmup = run(produce_sdk(b, topic, [("warmup-%d" % i).encode() for i in range(100)]))
        wait_committed(cat, ident, 100, b)
        before = s3_metrics(b.http_port)
        proxies[0].stop()
        proxies.append(S3Server(s3server_binary(), addr=proxies[0].address, upstream=server.endpoint,
                                faults=[str(x) for kv in FAULTS.items() for x in kv]))
        assert proxies[1].address == proxies[0].address

        acked = run(produce_sdk(b, topic, [b"fault-%06d" % i for i in range(N)]))
        acked.update(warmup)
        total = N + 100
        assert sorted(acked) == list(range(total))
        d = poll(lambda: (lambda d: d if d["table"]["committed_offset"] == total else None)(describe(b, topic)),
                 90, "every message committed")
        assert d["table"]["error"] is None

        # Exactly once, read through PyIceberg's S3 FileIO (straight from the server).
        table = wait_committed(cat, ident, total, b)
        offsets, payloads = table_columns(table, "offset", "payload")
        assert offsets == list(range(total))
        assert payloads == [acked[o] for o in range(total)]

        # The proxy injected every fault.
        assert proxies[1].injected() == sum(FAULTS.values())

        # The broker saw them. Certain: a dropped connection is on a fresh
        # connection (libcurl retries a reused one that dies silently, but
        # nothing is reused before the drops), so each is a "connection" retry;
        # each 503 is an answer: a "server_error" or "throttled" retry. A lost
        # answer may be re-sent by libcurl itself on a reused connection, so it
        # is at least nothing.
        after = s3_metrics(b.http_port)
        delta = {r: after["retries"].get(r, 0) - before["retries"].get(r, 0) for r in REASONS}
        assert delta["connection"] >= FAULTS["--drop"], delta
        assert delta["server_error"] >= FAULTS["--fail-503"], delta
        assert delta["throttled"] >= FAULTS["--slowdown"], delta
        assert after["errors"]["unavailable"] == before["errors"]["unavailable"], (before, after)
        conflicts = after["errors"]["conflict"] - before["errors"]["conflict"]

        log = b.log()
        lines = RETRY_LINE.findall(log)
        reasons = {r for _, _, _, r, _, _ in lines}
        # The first fault is always logged (nothing was logged in the second
        # before it); what follows within a second is counted, not logged.
        assert lines, f"no retry WARN line in the log:\n{log[-3000:]}"
        assert reasons <= set(REASONS), reasons
        assert lines[0][3] == "connection", lines[0]
        assert all(m == str(attempts) for _, _, m, _, _, _ in lines), lines
        print(f"s3 faults test: retries {delta}, {conflicts} conflicts (retried PUTs that met their own "
              f"object), {len(lines)} retry lines: {sorted(reasons)}")
        assert b.stop() == 0
    finally:
        for p in proxies:
            p.stop()
        server.stop()
