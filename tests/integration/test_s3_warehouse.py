"""The warehouse on S3 (issue 13): `frazil serve --warehouse s3://bucket/prefix`
against a real S3 server on loopback (gofakes3 behind tests/s3server, which
also checks every request's Signature Version 4), started per test on a free
port with a fresh bucket.

- messages produced with the Danube SDK are committed to the table on S3,
  read back by PyIceberg through its own S3 FileIO, and replayed from the
  table through a consumer; compaction, snapshot expiry (with the expired
  files deleted) and orphan removal (by listing the table's prefix) run on
  S3; deleting the topic leaves no object under the table's location;
- a malformed s3:// URI, a missing bucket, wrong credentials and an
  unreachable endpoint stop `frazil serve` at start with a clear error.

The server binary comes from scripts/setup-s3server.sh (the `integration`
stage of scripts/run-tests.sh runs it first; the s3_server fixture in
conftest.py runs it too when the binary is missing, and skips, saying why,
only if it cannot be built). The server and its helpers are in warehouses.py,
shared with the topic-storage suite, which also runs on S3.
"""
import asyncio
import os
import subprocess
import time

import pytest
from pyiceberg.table.snapshots import Operation

from conftest import FRAZIL_BIN, free_port
from test_topic_storage import (COMMITTED, Sent, admin, client_for, describe, poll, read_from_earliest, run,
                                sdk_producer, wait_committed)
from s3_helpers import ACCESS_KEY, BUCKET, PREFIX, SECRET_KEY, open_s3_catalog, s3_yaml
from warehouses import config_args

pytestmark = pytest.mark.s3


def message(i):
    payload = b"s3-%06d\x00" % i + bytes([i % 251, 255 - i % 7]) * (i % 30)
    attrs = {} if i % 10 == 0 else {"i": str(i)}
    return payload, attrs


async def produce(b, topic, indices):
    client = await client_for(b)
    p = await sdk_producer(client, topic, "s3p")
    sent = {}
    for s in range(0, len(indices), 100):
        chunk = indices[s:s + 100]
        offsets = await asyncio.gather(*[p.send(message(i)[0], message(i)[1] or None) for i in chunk])
        for i, o in zip(chunk, offsets):
            assert o not in sent
            payload, attrs = message(i)
            sent[o] = Sent(payload, attrs, None, "s3p")
    await p.close()
    return sent


UPKEEP = """\
wal:
  sync_mode: none
  segment_bytes: 65536
storage:
  flush_interval_ms: 200
  wal_retain_records: 0
  maintenance_interval_ms: 500
  snapshot_max_age_ms: 1000
  snapshot_min_keep: 2
  expired_files_grace_ms: 2000
  orphan_min_age_ms: 3000
  compact_min_files: 4
  compact_target_bytes: 4194304
"""


def test_topic_table_on_s3_commits_compacts_expires_replays_and_deletes(start_broker, tmp_path, s3_server):
    data = tmp_path / "data"
    topic, ident = "/default/ons3", "default.ons3"
    table_prefix = f"{PREFIX}/default/ons3"
    b = start_broker(data_dir=data, extra_args=config_args(tmp_path, "s3", s3_yaml(s3_server.endpoint, UPKEEP))
                     + ["--warehouse", f"s3://{BUCKET}/{PREFIX}"])
    health = b.wait_healthy(timeout=60)  # a loaded machine: WAL journal files are made first
    assert health["catalog"]["warehouse"] == f"s3://{BUCKET}/{PREFIX}", health
    cat = open_s3_catalog(data, s3_server)

    # Rounds of messages, each committed before the next: many small files,
    # so compaction has work.
    sent, rounds, per_round = {}, 8, 400
    for r in range(rounds):
        sent.update(run(produce(b, topic, list(range(r * per_round, (r + 1) * per_round)))))
        t = wait_committed(cat, ident, (r + 1) * per_round, b)
        if r == 0:  # replaced by compaction, then deleted with the snapshots that used it
            first_files = {task.file.file_path for task in t.scan().plan_files()}
    total = rounds * per_round
    assert sorted(sent) == list(range(total))

    table = cat.load_table(ident)
    assert table.location() == f"s3://{BUCKET}/{table_prefix}"
    assert table.metadata_location.startswith(f"s3://{BUCKET}/{table_prefix}/metadata/")
    # An object nobody references, in the table's prefix: orphan removal
    # must find it by listing and delete it.
    orphan = f"{BUCKET}/{table_prefix}/data/orphan-by-test.parquet"
    with s3_server.fs.open_output_stream(orphan) as f:
        f.write(b"not referenced")

    commits = len(cat.load_table(ident).snapshots())
    state = {}

    def upkept():
        # Upkeep follows commits (an idle table is left alone): keep the
        # topic busy with a message now and then.
        nxt = len(sent)
        sent.update(run(produce(b, topic, [nxt])))
        wait_committed(cat, ident, len(sent), b)
        t = cat.load_table(ident)
        compactions = [s for s in t.snapshots() if s.summary and s.summary.operation == Operation.REPLACE]
        referenced = set()
        try:
            for snap in t.snapshots():
                referenced |= {task.file.file_path for task in t.scan(snapshot_id=snap.snapshot_id).plan_files()}
        except FileNotFoundError:  # a snapshot expired meanwhile, its files deleted after the grace
            return None
        listed = {f"s3://{BUCKET}/{k}" for k in s3_server.keys(f"{BUCKET}/{table_prefix}/data")}
        # Orphan removal deleted the planted object, expiry the data files
        # only expired snapshots used (after the grace): what is left is what the
        # remaining snapshots reference, and the first files are gone.
        if compactions and len(t.snapshots()) < commits and listed == referenced and \
                not first_files & listed:
            return t, compactions, referenced
        state.update(compactions=len(compactions), snapshots=len(t.snapshots()), referenced=sorted(referenced),
                     unreferenced=sorted(listed - referenced), missing=sorted(referenced - listed))
        time.sleep(0.5)
        return None

    try:
        table, compactions, live = poll(upkept, 90, "compaction, snapshot expiry and orphan removal on S3")
    except AssertionError as e:
        raise AssertionError(f"{e}\nlast state: {state}\n{b.log()[-4000:]}") from None
    assert all(p.startswith(f"s3://{BUCKET}/{table_prefix}/data/") for p in live), live
    assert f"s3://{orphan}" not in live
    total = len(sent)
    assert sorted(sent) == list(range(total))
    assert int(table.properties[COMMITTED]) == total

    # PyIceberg through its S3 FileIO: exactly the messages sent.
    arrow = table.scan().to_arrow().sort_by("offset")
    offsets, payloads, attributes = (arrow[n].to_pylist() for n in ("offset", "payload", "attributes"))
    assert offsets == list(range(total))
    bad = [o for o in offsets if payloads[o] != sent[o].payload or dict(attributes[o]) != sent[o].attributes]
    assert not bad, f"{len(bad)} rows differ, first at offset {bad[0]}"

    # Replay from the table (the WAL kept nothing committed) through a consumer.
    d = poll(lambda: (lambda d: d if d["wal"]["low_water_offset"] > 0 else None)(describe(b, topic)), 30,
             "WAL segments given back after commit")
    low_water = d["wal"]["low_water_offset"]
    got, extra = read_from_earliest(b, topic, "replay", total, timeout=120)
    assert extra is None, f"extra message at offset {extra.msg_id.topic_offset}"
    assert [m.msg_id.topic_offset for m in got] == list(range(total))
    bad = [m.msg_id.topic_offset for m in got
           if (m.payload, dict(m.attributes)) != (sent[m.msg_id.topic_offset].payload,
                                                  sent[m.msg_id.topic_offset].attributes)]
    assert not bad, f"{len(bad)} replayed messages differ, first at offset {bad[0]}"

    # Topic delete: no object is left under the table's location.
    assert s3_server.keys(f"{BUCKET}/{table_prefix}")
    status, body = admin(b, "/admin/topics" + topic, method="DELETE")
    assert status in (200, 204), (status, body)
    assert not cat.table_exists(ident)
    assert s3_server.keys(f"{BUCKET}/{table_prefix}") == []
    print(f"s3 warehouse: {total} messages in {rounds} rounds, {len(compactions)} compaction(s), "
          f"{len(live)} live data file(s), WAL low water {low_water} at replay")
    assert b.stop() == 0


def serve_fails(tmp_path, name, args, env=None, timeout=60):
    """Runs `frazil serve` expecting it to stop by itself; returns (exit code, output)."""
    cmd = [FRAZIL_BIN, "serve", "--data-dir", str(tmp_path / name), "--listen", f"127.0.0.1:{free_port()}",
           "--http", f"127.0.0.1:{free_port()}", "--admin", f"127.0.0.1:{free_port()}", *args]
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout,
                       env=env)
    assert time.monotonic() - t0 < timeout
    return p.returncode, p.stdout


def test_bad_s3_warehouse_stops_the_broker_at_start_with_a_clear_error(tmp_path, s3_server):
    ok = config_args(tmp_path, "ok", s3_yaml(s3_server.endpoint))
    cases = [
        ("malformed", ok + ["--warehouse", "s3://Bad_Bucket/x"], 2, ["storage.warehouse", "s3://Bad_Bucket/x"]),
        ("nobucket", ok + ["--warehouse", "s3:///x"], 2, ["storage.warehouse", "no bucket"]),
        ("missing", ok + ["--warehouse", "s3://no-such-bucket/x"], 1, ["no-such-bucket", "does not exist"]),
        ("creds", config_args(tmp_path, "creds", s3_yaml(s3_server.endpoint).replace(SECRET_KEY, "wrong")) +
         ["--warehouse", f"s3://{BUCKET}/x"], 1, [BUCKET, "access denied", ACCESS_KEY]),
        ("unreachable", config_args(tmp_path, "down", s3_yaml(f"http://127.0.0.1:{free_port()}")) +
         ["--warehouse", f"s3://{BUCKET}/x"], 1, [BUCKET, "gave up after 3 attempts"]),
    ]
    for name, args, code, words in cases:
        rc, out = serve_fails(tmp_path, name, args)
        assert rc == code, f"{name}: exit {rc}, want {code}:\n{out}"
        for w in words:
            assert w in out, f"{name}: {w!r} not in the output:\n{out}"
        assert "listening" not in out, f"{name}: the broker started:\n{out}"
    # No credentials anywhere: the error says where it looked.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["HOME"] = str(tmp_path / "nohome")
    no_creds = s3_yaml(s3_server.endpoint).replace(f"  access_key_id: {ACCESS_KEY}\n", "").replace(
        f"  secret_access_key: {SECRET_KEY}\n", "")
    rc, out = serve_fails(tmp_path, "nocreds", config_args(tmp_path, "nocreds", no_creds) +
                          ["--warehouse", f"s3://{BUCKET}/x"], env=env)
    assert rc == 2 and "no credentials" in out and ".aws/credentials" in out, out
