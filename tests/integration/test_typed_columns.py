"""Issue 15: typed Iceberg columns decoded from JSON Schema and Avro
payloads, evolving with the producer's schema. A topic is produced with the
Python SDK under version 1 of a subject, then under version 2 that adds a
field; the table gains `value` (a struct) and `value_error`, its schema
history shows both versions, PyIceberg and DuckDB read the typed values
(null for the new field in old rows), a payload that does not decode
(policy warn) is kept with a null value and the reason, and replay from
the table returns the exact bytes that were sent."""
import asyncio
import json

import duckdb
import pytest
from danube import DanubeClientBuilder, DispatchStrategy
from danube.schema import SchemaType
from prometheus_client.parser import text_string_to_metric_families

from conftest import avro_long, http_get
from test_topic_storage import describe, poll, read_from_earliest, run, wait_committed
from warehouses import LocalWarehouse

CONFIG = """\
wal:
  sync_mode: none
  segment_max_age_ms: 300
storage:
  wal_retain_records: 0
  flush_interval_ms: 200
  # compaction rewrites the files of both schema versions into one
  maintenance_interval_ms: 500
  compact_min_files: 2
"""

JSON_V1 = {"type": "object", "properties": {"id": {"type": "integer"}, "item": {"type": "string"}},
           "required": ["id"]}
JSON_V2 = {"type": "object", "properties": {"id": {"type": "integer"}, "item": {"type": "string"},
                                            "qty": {"type": "integer"}}, "required": ["id"]}
AVRO_V1 = {"type": "record", "name": "Order", "fields": [{"name": "id", "type": "long"},
                                                         {"name": "item", "type": "string"}]}
AVRO_V2 = {"type": "record", "name": "Order", "fields": [{"name": "id", "type": "long"},
                                                         {"name": "item", "type": "string"},
                                                         {"name": "qty", "type": ["null", "int"], "default": None}]}


def avro_string(s):
    b = s.encode()
    return avro_long(len(b)) + b


def encode(kind, i, version):
    item = f"item-{i}"
    if kind == "json":
        d = {"id": i, "item": item}
        if version == 2:
            d["qty"] = i * 10
        return json.dumps(d).encode()
    out = avro_long(i) + avro_string(item)
    if version == 2:
        out += avro_long(1) + avro_long(i * 10)  # union branch 1: int
    return out


# Payloads the schema does not fit (the topic's policy is warn, so they are stored).
BAD = {"json": b'{"id": "seven", "item": "x"}', "avro": bytes([0x80])}
N1, N2 = 20, 20


def undecoded(b, topic):
    status, text = http_get(b.http_port, "/metrics", timeout=10)
    assert status == 200
    for f in text_string_to_metric_families(text):
        if f.name == "frazil_storage_undecoded_messages":
            for s in f.samples:
                if s.labels.get("topic") == topic and s.name.endswith("_total"):
                    return s.value
    return None


@pytest.mark.parametrize("kind", ["json", "avro"])
def test_typed_columns_evolve_with_the_schema(start_broker, tmp_path, catalog, kind):
    data = tmp_path / "data"
    topic, ident = f"/default/typed_{kind}", f"default.typed_{kind}"
    subject = f"orders-{kind}"
    stype = SchemaType.JSON_SCHEMA if kind == "json" else SchemaType.AVRO
    v1, v2 = (JSON_V1, JSON_V2) if kind == "json" else (AVRO_V1, AVRO_V2)
    wh = LocalWarehouse(tmp_path)
    b = start_broker(data_dir=data, extra_args=wh.broker_args("typed", CONFIG + catalog.yaml))
    b.wait_healthy(timeout=30)
    cat = catalog.open(wh, data)
    sent = []

    async def phase(version, first, count, bad=False):
        client = await DanubeClientBuilder().service_url(f"http://127.0.0.1:{b.listen_port}").build()
        reg = client.schema()
        sid = await reg.register_schema(subject).with_type(stype).with_schema_data(
            json.dumps(v1 if version == 1 else v2).encode()).execute()
        p = (client.new_producer().with_topic(topic).with_name(f"p{version}")
             .with_schema_version(subject, version).with_dispatch_strategy(DispatchStrategy.RELIABLE).build())
        await p.create()
        for i in range(first, first + count):
            payload = encode(kind, i, version)
            await p.send(payload)
            sent.append(payload)
        if bad:
            await p.send(BAD[kind])
            sent.append(BAD[kind])
        await p.close()
        return sid

    sid = run(phase(1, 0, N1, bad=True))
    wait_committed(cat, ident, N1 + 1, b)
    # The next phase starts in a new WAL segment, so the first one is reclaimed
    # once committed and its history is read back from the table.
    assert run(phase(2, 100, N2)) == sid
    total = N1 + 1 + N2
    table = wait_committed(cat, ident, total, b)
    poll(lambda: describe(b, topic)["wal"]["low_water_offset"] >= N1 + 1, 30, "WAL reclaimed below phase 2")
    assert undecoded(b, topic) == 1
    # The table as the last append left it (compaction may have run since;
    # it leaves the files it replaced for its grace period): files of both
    # versions.
    (appended,) = [s for s in table.snapshots()
                   if s.summary.operation.value == "append" and s.summary["frazil.offsets"].endswith(f"-{total - 1}")]
    before = table.scan(snapshot_id=appended.snapshot_id).to_arrow().sort_by("offset").to_pylist()
    before_files = [f.file.file_path.removeprefix("file://")
                    for f in table.scan(snapshot_id=appended.snapshot_id).plan_files()]
    assert len(before_files) >= 2
    # Compaction read the version-1 file by field id (qty null) and wrote
    # one file in the current schema.
    table = poll(lambda: (lambda t: t if t.current_snapshot().summary.operation.value == "replace"
                          and t.current_snapshot().summary["total-data-files"] == "1" else None)(
        cat.load_table(ident)), 60, "compaction into one file")

    # Schema history: the envelope, then value as version 1 has it, then with qty.
    def value_fields(schema):
        f = [c for c in schema.fields if c.name == "value"]
        return [n.name for n in f[0].field_type.fields] if f else None
    history = [value_fields(s) for s in table.schemas().values()]
    assert ["id", "item"] in history and ["id", "item", "qty"] in history, history
    assert value_fields(table.schema()) == ["id", "item", "qty"]
    ids = [f.field_id for f in table.schema().fields]
    assert len(ids) == len(set(ids)) and max(ids) <= table.metadata.last_column_id
    # qty got a fresh id above every id of the version-1 schema.
    v1_schema = next(s for s in table.schemas().values() if value_fields(s) == ["id", "item"])
    qty = table.schema().find_field("value.qty")
    assert qty.field_id > v1_schema.highest_field_id

    rows = table.scan().to_arrow().sort_by("offset").to_pylist()
    assert rows == before
    assert [r["payload"] for r in rows] == sent
    for r in rows[:N1]:
        i = r["offset"]
        assert r["value"] == {"id": i, "item": f"item-{i}", "qty": None}, r
        assert r["value_error"] is None
    bad = rows[N1]
    assert bad["value_error"], bad
    assert bad["value"] is None or bad["value"]["id"] is None, bad
    for j, r in enumerate(rows[N1 + 1:]):
        assert r["value"] == {"id": 100 + j, "item": f"item-{100 + j}", "qty": (100 + j) * 10}, r
        assert r["value_error"] is None

    # SQL on the typed columns: DuckDB over the table's files (files of both
    # versions unified by name), and over PyIceberg's scan.
    files = [f.file.file_path.removeprefix("file://") for f in table.scan().plan_files()]
    con = duckdb.connect()
    for fs in (before_files, files):  # as committed, and compacted into one
        got = con.execute(
            f"SELECT value.id, value.qty FROM read_parquet({fs}, union_by_name=true) "
            "WHERE value_error IS NULL ORDER BY \"offset\"").fetchall()
        assert got == [(i, None) for i in range(N1)] + [(100 + j, (100 + j) * 10) for j in range(N2)]
    con.register("t", table.scan().to_arrow())
    assert con.execute("SELECT count(*), count(value.qty), sum(value.qty) FROM t "
                       "WHERE value.item LIKE 'item-%'").fetchone() == (N1 + N2, N2, sum((100 + j) * 10 for j in range(N2)))
    (reason,) = con.execute("SELECT value_error FROM t WHERE value_error IS NOT NULL").fetchone()
    assert reason

    # Replay returns the exact bytes, the first phase read from the table.
    got, extra = read_from_earliest(b, topic, "replay", total, timeout=120)
    assert [bytes(m.payload) for m in got] == sent
    assert extra is None
    assert b.stop() == 0
