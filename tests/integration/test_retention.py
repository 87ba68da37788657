"""Topic retention (issue 16) against a real `frazil serve`: data past the
age limit leaves the table in a "delete" snapshot (PyIceberg no longer sees
it) and the WAL, newer data is untouched, and a subscription that lagged
behind moves forward to the first message kept; invalid limits and unknown
topics get clear errors from the HTTP admin API and `frazil topics
retention`."""

import asyncio
import time

from danube.proto import DanubeApi_pb2 as pb
from pyiceberg.table.snapshots import Operation

from conftest import http_get
from test_topic_storage import (RawProducer, admin, cli, client_for, describe, files_under, poll, run,
                                sdk_consumer, subscribe_from_earliest, wait_committed)
from warehouses import config_args
from warehouses import open_local_catalog as open_catalog

HOUR_MS = 3600 * 1000

# Commits and upkeep often, and a WAL segment per batch (a segment rolls
# once it is this old), so the old messages sit in sealed segments.
CONFIG = """
storage:
  flush_interval_ms: 200
  maintenance_interval_ms: 300
wal:
  sync_mode: none
  segment_max_age_ms: 100
"""


async def send_all(b, topic, payloads, publish_time_ms):
    p = RawProducer(b.listen_port, topic, "retention-producer")
    await p.create()
    offsets = []
    for payload in payloads:
        # RawProducer.send stamps the current time; these carry their own.
        resp = await p.stub.SendMessage(
            pb.StreamMessage(request_id=len(offsets) + 1000,
                             msg_id=pb.MsgID(producer_id=p.producer_id, topic_name=topic),
                             payload=payload, publish_time=publish_time_ms, producer_name=p.name),
            timeout=15)
        offsets.append(resp.request_id)
    await p.close()
    return offsets


def wal_bytes(b, topic):
    ns, name = topic.strip("/").split("/")
    return b"".join(open(f, "rb").read() for f in files_under(b.data_dir / "wal" / ns / name))


def metric(b, name):
    status, body = http_get(b.http_port, "/metrics")
    assert status == 200
    for line in body.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_age_limit_removes_old_files_from_table_and_wal_and_moves_lagging_subscription(start_broker, tmp_path):
    b = start_broker(extra_args=config_args(tmp_path, "retention", CONFIG))
    b.wait_healthy()
    topic, ident = "/default/retained", "default.retained"
    cat = open_catalog(b.data_dir)

    # The topic (reliable) and a subscription at its start that never reads.
    run(send_all(b, topic, [], 0))
    subscribe_from_earliest(b, topic, "laggard", "slow")

    now = int(time.time() * 1000)
    old = [b"old-message-%03d" % i for i in range(20)]
    new = [b"new-message-%03d" % i for i in range(10)]
    old_offsets = run(send_all(b, topic, old, now - 2 * HOUR_MS))
    wait_committed(cat, ident, len(old), b)
    time.sleep(0.5)  # the next batch goes to a new WAL segment and a new data file
    new_offsets = run(send_all(b, topic, new, now))
    assert old_offsets == list(range(20)) and new_offsets == list(range(20, 30))
    table = wait_committed(cat, ident, len(old) + len(new), b)
    assert sorted(table.scan().to_arrow()["offset"].to_pylist()) == list(range(30))
    assert b"old-message-000" in wal_bytes(b, topic)

    # Nothing applies by default.
    status, body = admin(b, "/admin/topics" + topic + "/retention")
    assert status == 200, body
    assert body == {"topic": topic, "source": "default", "max_age_ms": 0, "max_bytes": 0,
                    "first_retained_offset": 0}

    # An hour: the old messages (two hours old) go, the new stay.
    code, out, err = cli("topics", "retention", topic, "--max-age-ms", str(HOUR_MS), "--http",
                         f"127.0.0.1:{b.http_port}")
    assert code == 0, err
    assert "max age 3600000 ms" in out and "the topic's own" in out, out

    def delete_snapshot():
        t = cat.load_table(ident)
        s = t.current_snapshot()
        return t if s and s.summary.operation == Operation.DELETE else None

    table = poll(delete_snapshot, 30, "a delete snapshot")
    summary = table.current_snapshot().summary
    assert "frazil.retention" in summary, summary
    assert summary["deleted-records"] == "20", summary
    rows = table.scan().to_arrow().sort_by("offset")
    assert rows["offset"].to_pylist() == list(range(20, 30))
    assert rows["payload"].to_pylist() == new
    # The table's committed offset is unchanged: retention removes, it does not rewind.
    assert table.properties["frazil.committed-offset"] == "30"

    # The WAL no longer holds the old messages; the new ones are still there.
    poll(lambda: describe(b, topic)["wal"]["low_water_offset"] >= 20, 15, "WAL reclaimed below offset 20")
    data = wal_bytes(b, topic)
    assert not any(m in data for m in old), "expired messages still in the WAL"
    assert all(m in data for m in new)

    # The lagging subscription moved to the first message kept, logged and counted.
    subs = {s["name"]: s for s in describe(b, topic)["subscriptions"]}
    assert subs["laggard"]["cursor"] == 20, subs
    assert "subscription laggard on /default/retained was behind retention" in b.log()
    assert metric(b, "frazil_retention_cursor_moves_total") == 1
    assert metric(b, 'frazil_storage_retention_files_removed_total') >= 1

    async def first_message():
        client = await client_for(b)
        c, q = await sdk_consumer(client, topic, "laggard", "slow")
        m = await asyncio.wait_for(q.get(), 20)
        await c.ack(m)
        await c.close()
        return m

    m = run(first_message(), timeout=60)
    assert m.msg_id.topic_offset == 20 and m.payload == new[0]

    status, body = admin(b, "/admin/topics" + topic + "/retention")
    assert body["source"] == "topic" and body["max_age_ms"] == HOUR_MS and body["first_retained_offset"] == 20

    # Back to the default (none): nothing more goes, nothing comes back.
    status, body = admin(b, "/admin/topics" + topic + "/retention", "DELETE")
    assert status == 200 and body["source"] == "default" and body["max_age_ms"] == 0, body


def test_retention_survives_restart_and_applies_size_limit(start_broker, tmp_path):
    """A topic's own retention is kept in metadata.db across a restart; a
    size limit removes the oldest files until the rest fits."""
    cfg = config_args(tmp_path, "retention", CONFIG)
    b = start_broker(extra_args=cfg)
    b.wait_healthy()
    topic, ident = "/default/sized", "default.sized"
    cat = open_catalog(b.data_dir)
    now = int(time.time() * 1000)
    total = 0
    for batch in range(4):
        run(send_all(b, topic, [b"batch-%d-%03d" % (batch, i) + b"x" * 200 for i in range(10)], now + batch))
        total += 10
        wait_committed(cat, ident, total, b)
        time.sleep(0.3)
    sizes = [f.file.file_size_in_bytes for f in cat.load_table(ident).scan().plan_files()]
    assert len(sizes) == 4, sizes
    # Room for two of the (equally large) files: the two oldest batches go.
    limit = max(sizes) * 2 + 1
    assert min(sizes) * 3 > limit, sizes
    status, body = admin(b, f"/admin/topics{topic}/retention?max_bytes={limit}", "PUT")
    assert status == 200 and body["max_bytes"] == limit, body
    b.stop()

    b = start_broker(data_dir=b.data_dir, extra_args=cfg)
    b.wait_healthy()
    status, body = admin(b, f"/admin/topics{topic}/retention")
    assert body["source"] == "topic" and body["max_bytes"] == limit, body

    def kept():
        t = cat.load_table(ident)
        s = t.current_snapshot()
        return t if s and s.summary.operation == Operation.DELETE else None

    table = poll(kept, 30, "a delete snapshot")
    offsets = sorted(table.scan().to_arrow()["offset"].to_pylist())
    assert offsets == list(range(20, 40)), offsets
    assert sum(f.file.file_size_in_bytes for f in table.scan().plan_files()) <= limit


def test_retention_bad_input(start_broker, tmp_path):
    b = start_broker(extra_args=config_args(tmp_path, "retention", CONFIG))
    b.wait_healthy()
    topic = "/default/guarded"
    run(send_all(b, topic, [b"x"], int(time.time() * 1000)))
    base = "/admin/topics" + topic + "/retention"
    for query, needle in [("max_age_ms=-5", "max_age_ms must be 0 (no limit) or a positive whole number"),
                          ("max_bytes=ten", "max_bytes must be 0 (no limit) or a positive whole number"),
                          ("max_age_ms=", "max_age_ms must be"),
                          ("keep=1", "unknown query parameter 'keep'"),
                          ("", "give max_age_ms and/or max_bytes")]:
        status, body = admin(b, base + ("?" + query if query else ""), "PUT")
        assert status == 400 and needle in body["error"], (query, status, body)
    # Unchanged by the refused requests.
    status, body = admin(b, base)
    assert body["source"] == "default" and body["max_age_ms"] == 0, body

    for method in ("GET", "PUT", "DELETE"):
        status, body = admin(b, "/admin/topics/default/nope/retention" + ("?max_age_ms=1" if method == "PUT" else ""),
                             method)
        assert status == 404 and "topic /default/nope does not exist" in body["error"], (method, body)

    http = ["--http", f"127.0.0.1:{b.http_port}"]
    code, out, err = cli("topics", "retention", topic, "--max-age-ms", "-1", *http)
    assert code == 1 and "max_age_ms must be 0 (no limit) or a positive whole number" in err, (out, err)
    code, out, err = cli("topics", "retention", "/default/nope", *http)
    assert code == 1 and "does not exist" in err, (out, err)
    code, out, err = cli("topics", "retention", topic, "--default", "--max-bytes", "5", *http)
    assert code == 2 and "--default cannot be given" in err, (out, err)
    code, out, err = cli("topics", "retention", topic, *http)
    assert code == 0 and "max age no limit, max size no limit (the broker's default)" in out, (out, err)
    assert b.proc.poll() is None

    # A negative default in the configuration file is refused at start.
    bad = start_broker(data_dir=tmp_path / "bad", extra_args=config_args(
        tmp_path, "bad", "storage:\n  retention_max_age_ms: -1\n"))
    assert bad.proc.wait(timeout=10) != 0
    assert "storage.retention_max_age_ms must be 0 (no limit) or positive, not -1" in bad.log()
