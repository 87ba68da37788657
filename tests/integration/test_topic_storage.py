"""Issue 6: `frazil serve` commits every topic's WAL into the topic's Iceberg
table. Real broker processes, driven by the Danube Python SDK (and, where a
test needs control over each RPC, by raw gRPC calls with the SDK's own
generated stubs); the tables are read back with PyIceberg (SqlCatalog
`frazil` on DATA_DIR/catalog.db) and DuckDB.

The tests that take the `warehouse` fixture run twice: with the default
local warehouse and with the warehouse on S3 (issue 13: a fresh bucket on the
S3 test server, tables read by PyIceberg through its S3 FileIO, objects
listed in the bucket; see warehouses.py). The suite's core (the 100,000
messages, the replay table -> WAL, the SIGKILL rounds and the topic delete)
takes the `catalog` fixture too: it runs again with the tables in Iceberg's
REST catalog server and in Glue (moto) (catalogs.py).

- 100,000 messages: table == what was acknowledged, offset by offset
- history only in the table: a new subscription from earliest replays the
  table, then the WAL, with no gap or duplicate while producers keep sending
- SIGKILL rounds: every acknowledged message is in the table exactly once
- storage outage: RESOURCE_EXHAUSTED "storage unavailable" once the WAL cap
  is reached, then every acknowledged message committed once storage returns
- topic delete (CLI and HTTP): table, files, WAL and subscriptions are gone
- `frazil topics list|describe|delete`
"""
import asyncio
import collections
import itertools
import json
import os
import pathlib
import random
import re
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Optional

import duckdb
import grpc
from danube import DanubeClientBuilder, DispatchStrategy, SubType
from danube.proto import DanubeApi_pb2 as pb
from danube.proto import DanubeApi_pb2_grpc as pb_grpc
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.table.snapshots import Operation

from conftest import FRAZIL_BIN, free_port
from warehouses import config_args
from warehouses import open_local_catalog as open_catalog

COMMITTED = "frazil.committed-offset"
EARLIEST = ("x-frazil-initial-position", "earliest")
SCHEMA = [(1, "offset"), (2, "publish_time"), (3, "producer_name"), (4, "producer_id"), (5, "routing_key"),
          (6, "attributes"), (7, "payload"), (8, "schema_id"), (9, "schema_version")]


# ---------------------------------------------------------------- helpers

def run(coro, timeout=240):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def load_table_or_none(cat, ident):
    try:
        return cat.load_table(ident)
    except NoSuchTableError:
        return None


def committed_of(table) -> int:
    return int(table.properties.get(COMMITTED, "0")) if table is not None else 0


def wait_committed(cat, ident, target, broker=None, timeout=90.0):
    """Polls the catalog until the table's committed offset reaches target;
    returns the table. More than target is a failure (rows nobody sent)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        table = load_table_or_none(cat, ident)
        last = committed_of(table)
        if last >= target:
            assert last == target, f"{ident}: committed offset {last}, only {target} messages were produced"
            return table
        time.sleep(0.2)
    log = broker.log()[-3000:] if broker else ""
    raise AssertionError(f"{ident}: committed offset {last} after {timeout}s, want {target}\n{log}")


def poll(fn, timeout, what):
    """Calls fn until it returns a truthy value; returns it."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"{what}: not true after {timeout}s (last: {last!r})")


def admin(b, path, method="GET", timeout=5.0):
    """(status, parsed JSON body) of an admin HTTP call."""
    req = urllib.request.Request(f"http://127.0.0.1:{b.http_port}{path}", method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        body = e.read()
        return e.code, json.loads(body) if body else None


def describe(b, topic):
    status, body = admin(b, "/admin/topics" + topic)
    assert status == 200, (status, body)
    return body


TABLE_KEYS = ("identifier", "snapshot_id", "committed_offset", "error")
SUB_KEYS = ("name", "type", "cursor", "lag", "consumers")


def pick(d, keys):
    """The interface's keys of an admin object (it may carry more)."""
    return {k: d[k] for k in keys if k in d} | {k: "<missing>" for k in keys if k not in d}


def cli(*args, timeout=20):
    p = subprocess.run([FRAZIL_BIN, *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def files_under(path: pathlib.Path):
    return sorted(str(p) for p in path.rglob("*") if not p.is_dir()) if path.exists() else []


def table_columns(table, *names):
    """The table's rows (PyIceberg scan), sorted by offset, as one list per column."""
    arrow = table.scan().to_arrow().sort_by("offset")
    return [arrow[n].to_pylist() for n in names]


def data_files(table):
    return [t.file.file_path.removeprefix("file://") for t in table.scan().plan_files()]


def snapshot_ranges(table):
    """The frazil.offsets of every commit snapshot, oldest first, as (first, last)
    (compaction's replace snapshots add no offsets)."""
    out = []
    for s in table.snapshots():  # in commit order
        assert s.summary is not None, f"snapshot {s.snapshot_id} has no summary"
        if s.summary.operation == Operation.REPLACE and "frazil.compacted" in s.summary:
            continue
        assert "frazil.offsets" in s.summary, f"snapshot {s.snapshot_id}: {s.summary}"
        first, last = s.summary["frazil.offsets"].split("-")
        out.append((int(first), int(last)))
    return out


def assert_snapshot_chain(table, committed):
    ranges = snapshot_ranges(table)
    assert ranges, "no snapshot"
    assert ranges[0][0] == 0, ranges[:3]
    for (a0, a1), (b0, b1) in zip(ranges, ranges[1:]):
        assert a0 <= a1 and b0 == a1 + 1, f"snapshot ranges not contiguous: {a0}-{a1} then {b0}-{b1}"
    assert ranges[-1][1] == committed - 1, ranges[-3:]


@dataclass
class Sent:
    payload: bytes
    attributes: dict
    key: Optional[str]
    producer: str


KINDS = ["created", "paid", "shipped"]


def message(i):
    """Message i: distinct binary payload (NUL and high bytes included), distinct attributes, some keys."""
    payload = b"msg-%07d\x00" % i + bytes([i % 251, 255 - i % 7]) * (i % 40)
    attrs = {} if i % 10 == 0 else {"i": str(i), "kind": KINDS[i % 3]}
    key = f"key-{i % 17}" if i % 4 == 1 else None
    return payload, attrs, key


async def client_for(b):
    return await DanubeClientBuilder().service_url(f"http://127.0.0.1:{b.listen_port}").build()


async def sdk_producer(client, topic, name):
    p = (client.new_producer().with_topic(topic).with_name(name)
         .with_dispatch_strategy(DispatchStrategy.RELIABLE).build())
    await p.create()
    return p


async def sdk_send(p, i):
    payload, attrs, key = message(i)
    if key is None:
        return await p.send(payload, attrs or None)
    return await p.send_with_key(payload, attrs or None, key)


async def produce_sdk(b, topic, indices, producers=4, window=100, prefix="p"):
    """Sends message(i) for every i with `producers` SDK producers, each
    `window` sends at a time; returns {offset: Sent}."""
    client = await client_for(b)
    sent = {}

    async def one(k, idxs):
        name = f"{prefix}{k}"
        p = await sdk_producer(client, topic, name)
        for s in range(0, len(idxs), window):
            chunk = idxs[s:s + window]
            offsets = await asyncio.gather(*[sdk_send(p, i) for i in chunk])
            for i, o in zip(chunk, offsets):
                assert o not in sent, f"offset {o} returned for two sends"
                payload, attrs, key = message(i)
                sent[o] = Sent(payload, attrs, key, name)
        await p.close()

    await asyncio.gather(*[one(k, indices[k::producers]) for k in range(producers)])
    return sent


class RawProducer:
    """A producer on the SDK's generated stubs: one SendMessage per call, no retries."""

    def __init__(self, port, topic, name):
        self.topic, self.name = topic, name
        self.channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        self.stub = pb_grpc.ProducerServiceStub(self.channel)
        self.ids = itertools.count(1)
        self.producer_id = None

    async def create(self):
        resp = await self.stub.CreateProducer(
            pb.ProducerRequest(request_id=next(self.ids), producer_name=self.name, topic_name=self.topic,
                               dispatch_strategy=pb.Reliable), timeout=10)
        self.producer_id = resp.producer_id

    async def send(self, payload, attributes=None, timeout=15):
        resp = await self.stub.SendMessage(
            pb.StreamMessage(request_id=next(self.ids), msg_id=pb.MsgID(producer_id=self.producer_id,
                                                                        topic_name=self.topic),
                             payload=payload, publish_time=int(time.time() * 1000), producer_name=self.name,
                             attributes=attributes or {}), timeout=timeout)
        return resp.request_id

    async def close(self):
        await self.channel.close()


def subscribe_from_earliest(b, topic, sub, consumer_name):
    """Creates the subscription at the oldest message (the SDK cannot send
    x-frazil-initial-position); an SDK consumer with the same names attaches
    to it afterwards."""
    with grpc.insecure_channel(f"127.0.0.1:{b.listen_port}") as ch:
        resp = pb_grpc.ConsumerServiceStub(ch).Subscribe(
            pb.ConsumerRequest(request_id=1, topic_name=topic, consumer_name=consumer_name, subscription=sub,
                               subscription_type=pb.ConsumerRequest.Exclusive), metadata=[EARLIEST], timeout=10)
        return resp.consumer_id


async def sdk_consumer(client, topic, sub, name):
    c = (client.new_consumer().with_topic(topic).with_consumer_name(name).with_subscription(sub)
         .with_subscription_type(SubType.EXCLUSIVE).build())
    await c.subscribe()
    return c, await c.receive()


async def consume(c, q, until, on_message=None, timeout=20):
    """Receives and acks until until(received) is true; returns the messages."""
    got, acks = [], []
    idle_since = time.monotonic()
    while not until(got):
        try:
            m = await asyncio.wait_for(q.get(), 0.25)
        except asyncio.TimeoutError:
            if time.monotonic() - idle_since > timeout:
                last = got[-1].msg_id.topic_offset if got else None
                raise AssertionError(f"no message for {timeout}s after {len(got)} messages (last offset {last})")
            continue
        idle_since = time.monotonic()
        got.append(m)
        if on_message:
            on_message(m)
        acks.append(asyncio.ensure_future(c.ack(m)))
        if len(acks) >= 400:
            await asyncio.gather(*acks)
            acks = []
    await asyncio.gather(*acks)
    return got


async def nothing_more(q, wait=1.0):
    try:
        return await asyncio.wait_for(q.get(), wait)
    except asyncio.TimeoutError:
        return None


def read_from_earliest(b, topic, sub, count, timeout):
    """Subscribes `sub` at the oldest message and reads `count` messages
    through an SDK consumer; returns them and what came after (None if
    nothing did)."""
    subscribe_from_earliest(b, topic, sub, "reader")

    async def read():
        client = await client_for(b)
        c, q = await sdk_consumer(client, topic, sub, "reader")
        got = await consume(c, q, lambda got: len(got) >= count)
        extra = await nothing_more(q)
        await c.close()
        return got, extra

    return run(read(), timeout=timeout)


# ---------------------------------------------------------------- 1. 100,000 messages

TOTAL = 100_000
FAST = "wal:\n  sync_mode: none\n"


def messages_for(warehouse, catalog):
    """100,000, but a fifth of that for REST and Glue with the S3 warehouse:
    the same path for every message at a fifth of the CI time (the local
    warehouse runs them with all 100,000)."""
    return TOTAL if catalog.kind == "sql" or warehouse.kind == "local" else TOTAL // 5


def test_hundred_thousand_messages_become_exactly_those_rows(start_broker, tmp_path, warehouse, catalog):
    data = tmp_path / "data"
    b = start_broker(data_dir=data, extra_args=warehouse.broker_args("fast", FAST + catalog.yaml))
    b.wait_healthy(timeout=30)
    total = messages_for(warehouse, catalog)
    t0 = time.time()
    sent = run(produce_sdk(b, "/default/bulk", list(range(total)), producers=4), timeout=300)
    t1 = time.time()
    assert sorted(sent) == list(range(total))  # send() returned every offset once

    cat = catalog.open(warehouse, data)
    table = wait_committed(cat, "default.bulk", total, b)
    assert table.properties[COMMITTED] == str(total)
    assert [(f.field_id, f.name) for f in table.schema().fields] == SCHEMA
    assert_snapshot_chain(table, total)

    # PyIceberg
    offsets, payloads, attributes, keys, names, times = table_columns(
        table, "offset", "payload", "attributes", "routing_key", "producer_name", "publish_time")
    assert len(offsets) == total
    assert offsets == list(range(total))
    bad = [o for o in range(total) if payloads[o] != sent[o].payload or dict(attributes[o]) != sent[o].attributes
           or keys[o] != sent[o].key or names[o] != sent[o].producer]
    assert not bad, f"{len(bad)} rows differ from what was sent, first at offset {bad[0]}: " \
                    f"{payloads[bad[0]]!r} {attributes[bad[0]]} {keys[bad[0]]} {names[bad[0]]} vs {sent[bad[0]]}"
    assert t0 - 2 <= min(times).timestamp() and max(times).timestamp() <= t1 + 2

    # DuckDB over the current snapshot's data files
    files = data_files(table)
    day = re.compile(re.escape(catalog.data_prefix(warehouse, data, "default.bulk", table))
                     + r"/publish_time_day=\d{4}-\d{2}-\d{2}/[^/]+\.parquet$")
    assert files and all(day.match(f) for f in files), files[:3]
    con = duckdb.connect()
    rel = warehouse.parquet_relation(con, files)
    n, distinct, lo, hi = con.execute(
        f'SELECT count(*), count(DISTINCT "offset"), min("offset"), max("offset") FROM {rel}').fetchone()
    assert (n, distinct, lo, hi) == (total, total, 0, total - 1)
    rows = con.execute(f'SELECT "offset", payload, attributes, routing_key, producer_name '
                       f'FROM {rel} ORDER BY "offset"').fetchall()
    assert [r[0] for r in rows] == list(range(total))
    bad = [r[0] for r in rows if (r[1], r[2], r[3], r[4]) != (sent[r[0]].payload, sent[r[0]].attributes,
                                                                sent[r[0]].key, sent[r[0]].producer)]
    assert not bad, f"DuckDB: {len(bad)} rows differ, first at offset {bad[0]}: {rows[bad[0]]} vs {sent[bad[0]]}"
    assert b.stop() == 0


# ---------------------------------------------------------------- 2. replay: table, then WAL

SMALL_WAL = """\
wal:
  sync_mode: none
  segment_bytes: 262144
storage:
  wal_retain_records: 0
  flush_interval_ms: 200
  # compaction replaces the small files while the consumer replays them
  maintenance_interval_ms: 2000
  compact_min_files: 4
  compact_target_bytes: 4194304
"""


REPLAY_OTHER_CATALOGS = 20_000


def test_new_subscription_from_earliest_reads_the_table_then_the_wal(start_broker, tmp_path, warehouse, catalog):
    data = tmp_path / "data"
    topic = "/default/history"
    b = start_broker(data_dir=data, extra_args=warehouse.broker_args("small-wal", SMALL_WAL + catalog.yaml))
    b.wait_healthy(timeout=30)
    cat = catalog.open(warehouse, data)
    # The other catalogs replay fewer messages: the same table -> WAL
    # boundary, with compaction, at a fifth of the run time.
    total = TOTAL if catalog.kind == "sql" else REPLAY_OTHER_CATALOGS
    sent = run(produce_sdk(b, topic, list(range(total)), producers=4), timeout=300)
    assert sorted(sent) == list(range(total))
    wait_committed(cat, "default.history", total, b)
    # the WAL gave back the committed segments: history below low water is
    # only in the table. The catalog shows the last commit a moment before
    # the broker's commit call returns and its status says so: poll for both.
    d = poll(lambda: (lambda d: d if d["wal"]["low_water_offset"] >= total // 2 and
                      d["table"]["committed_offset"] == total else None)(describe(b, topic)),
             30, f"WAL low-water mark above {total // 2} and the broker's committed offset at {total}")
    low_water = d["wal"]["low_water_offset"]
    assert low_water <= total and d["wal"]["next_offset"] == total
    assert d["table"]["committed_offset"] == total and d["table"]["error"] is None
    assert not (data / "wal" / "default" / "history").exists() or \
        sum(f.stat().st_size for f in (data / "wal" / "default" / "history").rglob("*") if f.is_file()) < 4 << 20

    subscribe_from_earliest(b, topic, "replay", "reader")
    sub = [s for s in describe(b, topic)["subscriptions"] if s["name"] == "replay"]
    assert len(sub) == 1 and sub[0]["cursor"] == 0 and sub[0]["lag"] == total, sub

    async def main():
        client = await client_for(b)
        c, q = await sdk_consumer(client, topic, "replay", "reader")
        more = {}
        stop = asyncio.Event()
        progress = {"n": 0}

        async def keep_producing():  # new messages arrive while the history is replayed
            p = await sdk_producer(client, topic, "late")
            i = 1_000_000
            while not stop.is_set():
                for _ in range(10):
                    o = await sdk_send(p, i)
                    payload, attrs, key = message(i)
                    more[o] = Sent(payload, attrs, key, "late")
                    i += 1
                await asyncio.sleep(0.03)
            await p.close()

        producing = asyncio.create_task(keep_producing())

        def seen(m):
            progress["n"] += 1
            if progress["n"] >= low_water + 3000:  # well past the table->WAL boundary
                stop.set()

        got = await consume(c, q, lambda got: stop.is_set() and producing.done() and
                            len(got) >= total + len(more), on_message=seen)
        await producing
        extra = await nothing_more(q)
        await c.close()
        return got, more, extra

    got, more, extra = run(main(), timeout=300)
    assert extra is None, f"an extra message after the last one: offset {extra.msg_id.topic_offset}"
    assert sorted(more) == list(range(total, total + len(more))) and len(more) > 0
    sent.update(more)
    offsets = [m.msg_id.topic_offset for m in got]
    gaps = [(a, b_) for a, b_ in zip(offsets, offsets[1:]) if b_ != a + 1]
    assert offsets[0] == 0 and not gaps, f"not consecutive: first {offsets[0]}, breaks {gaps[:5]} " \
                                         f"(low water was {low_water})"
    assert offsets == list(range(total + len(more)))
    bad = [m.msg_id.topic_offset for m in got
           if (m.payload, dict(m.attributes), m.routing_key if m.HasField("routing_key") else None, m.producer_name)
           != (sent[m.msg_id.topic_offset].payload, sent[m.msg_id.topic_offset].attributes,
               sent[m.msg_id.topic_offset].key, sent[m.msg_id.topic_offset].producer)]
    assert not bad, f"{len(bad)} messages differ from what was sent, first at offset {bad[0]}"
    # compaction rewrote files meanwhile; the table still holds every message once
    end = total + len(more)
    table = wait_committed(cat, "default.history", end, b)
    compactions = [x for x in table.snapshots() if x.summary and x.summary.operation == Operation.REPLACE]
    assert compactions, "no compaction ran"
    assert_snapshot_chain(table, end)
    offsets, payloads = table_columns(table, "offset", "payload")
    assert offsets == list(range(end))
    assert all(payloads[o] == sent[o].payload for o in range(end))
    print(f"replay test: WAL low water {low_water} when subscribed, {len(more)} sent during the replay, "
          f"{len(got)} received in order, {len(compactions)} compactions")
    assert b.stop() == 0


# ---------------------------------------------------------------- 3. SIGKILL rounds

CRASH = """\
storage:
  flush_interval_ms: 100
  max_rows: 150
"""


def test_sigkill_rounds_keep_every_acknowledged_message_exactly_once(start_broker, tmp_path, warehouse, catalog):
    data = tmp_path / "data"
    topic, ident = "/default/crash", "default.crash"
    seed = int(os.environ.get("FRAZIL_CRASH_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    args = warehouse.broker_args("crash", CRASH + catalog.yaml)  # every round: the same data directory and warehouse
    acked = {}        # offset -> payload, every send the broker acknowledged
    attempted = set()  # every payload ever sent (acknowledged or not)
    interrupted = 0
    committed_before = 0
    cat = None
    # Half the rounds for REST and Glue with the S3 warehouse (CI time).
    rounds = 20 if catalog.kind == "sql" or warehouse.kind == "local" else 10

    for r in range(rounds):
        b = start_broker(data_dir=data, extra_args=args)
        b.wait_healthy(timeout=30)
        cat = cat or catalog.open(warehouse, data)
        cap = rng.choice([50, 300, 3000, 3000, 3000])  # per sender: some rounds end idle, most mid-send
        delay = rng.uniform(0.05, 1.5)

        async def crash_round():
            prods = [RawProducer(b.listen_port, topic, f"crash-{k}") for k in range(4)]
            for p in prods:
                await p.create()
            failed = []

            async def sender(p, k):
                for i in range(cap):
                    payload = b"r%02d-p%d-%05d" % (r, k, i)
                    attempted.add(payload)
                    try:
                        off = await p.send(payload, {"round": str(r)}, timeout=10)
                    except grpc.aio.AioRpcError as e:
                        failed.append(e.code())
                        return
                    assert off not in acked, f"seed {seed} round {r}: offset {off} acknowledged for " \
                                             f"{acked[off]!r} and again for {payload!r}"
                    acked[off] = payload

            tasks = [asyncio.create_task(sender(p, k)) for k, p in enumerate(prods)]
            await asyncio.sleep(delay)
            b.kill()  # SIGKILL
            await asyncio.gather(*tasks)
            for p in prods:
                await p.close()
            return failed

        failed = run(crash_round(), timeout=60)
        interrupted += bool(failed)
        assert all(c in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED,
                         grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)
                   for c in failed), failed
        committed = committed_of(load_table_or_none(cat, ident))
        assert committed >= committed_before, f"seed {seed} round {r}: committed offset went back " \
                                              f"from {committed_before} to {committed}"
        committed_before = committed

    assert len(acked) >= 100 * rounds, f"seed {seed}: only {len(acked)} acknowledged sends in {rounds} rounds"
    b = start_broker(data_dir=data, extra_args=args)
    b.wait_healthy(timeout=30)
    d = poll(lambda: (lambda d: d if d["table"]["committed_offset"] == d["wal"]["next_offset"] else None)(
        describe(b, topic)), 60, "commits caught up with the WAL")
    end = d["wal"]["next_offset"]
    assert d["table"]["error"] is None
    assert end >= max(acked) + 1
    table = wait_committed(cat, ident, end, b)
    assert_snapshot_chain(table, end)

    offsets, payloads = table_columns(table, "offset", "payload")
    dups = [o for o, n in zip(offsets, offsets[1:]) if o == n]
    assert not dups, f"seed {seed}: offsets in the table twice: {dups[:10]}"
    assert offsets == list(range(end)), f"seed {seed}: table offsets are not 0..{end - 1}"
    lost = [(o, p) for o, p in sorted(acked.items()) if payloads[o] != p]
    assert not lost, f"seed {seed}: {len(lost)} acknowledged messages not at their offset, first {lost[0]} " \
                     f"holds {payloads[lost[0][0]]!r}"
    assert len(set(payloads)) == len(payloads), f"seed {seed}: a payload is in the table twice"
    strangers = [p for p in payloads if p not in attempted]
    assert not strangers, f"seed {seed}: rows nobody sent: {strangers[:3]}"
    # DuckDB agrees
    con = duckdb.connect()
    n, distinct = con.execute(
        f'SELECT count(*), count(DISTINCT "offset") FROM {warehouse.parquet_relation(con, data_files(table))}'
    ).fetchone()
    assert (n, distinct) == (end, end)

    # a consumer from earliest sees every offset once
    got, extra = read_from_earliest(b, topic, "after-crashes", end, timeout=180)
    assert extra is None
    assert [m.msg_id.topic_offset for m in got] == list(range(end)), f"seed {seed}"
    assert [m.payload for m in got] == payloads
    print(f"crash test: seed {seed}, {len(acked)} acknowledged, {end} in the table, "
          f"{interrupted}/{rounds} rounds killed with sends in flight")
    assert b.stop() == 0


# ---------------------------------------------------------------- 4. storage outage

OUTAGE = """\
wal:
  sync_mode: none
  segment_bytes: 262144
  max_total_bytes: 2097152
storage:
  flush_interval_ms: 200
  wal_retain_records: 0
  commit_max_backoff_ms: 500
"""


class ProducersUnderLoad:
    """Three raw gRPC producers and a Danube SDK producer sending to `topic`
    until stopped, for the outage tests: what was acknowledged (offset ->
    payload), what was attempted, and every refusal with the phase it came
    in (`phase`, set by the test)."""

    def __init__(self, b, topic, table_state):
        self.b, self.topic, self.table_state = b, topic, table_state
        self.acked = {}       # offset -> payload
        self.attempted = set()
        self.raw_errors = []  # (phase, code, details)
        self.sdk_errors = []
        self.phase = "before"
        self.acked_after = 0  # acknowledged since the phase became "after..."
        self._stop = asyncio.Event()

    async def start(self, cat, ident, warmup=300):
        """Creates the producers, sends and commits `warmup` messages, then
        starts the senders."""
        client = await client_for(self.b)
        self.raws = [RawProducer(self.b.listen_port, self.topic, f"raw-{k}") for k in range(3)]
        for p in self.raws:
            await p.create()
        for i in range(warmup):
            payload = b"warmup-%d" % i
            self.attempted.add(payload)
            self.acked[await self.raws[0].send(payload)] = payload
        await asyncio.to_thread(wait_committed, cat, ident, warmup, self.b)
        filler = b"x" * 1000

        async def raw_sender(p, k):
            for i in itertools.count():
                if self._stop.is_set():
                    return
                payload = b"raw-%d-%07d-" % (k, i) + filler
                self.attempted.add(payload)
                try:
                    off = await p.send(payload, timeout=15)
                except grpc.aio.AioRpcError as e:
                    self.raw_errors.append((self.phase, e.code(), e.details()))
                    await asyncio.sleep(0.05)
                    continue
                assert off not in self.acked, f"offset {off} acknowledged twice"
                self.acked[off] = payload
                self.acked_after += self.phase.startswith("after")

        async def sdk_sender():  # the SDK retries RESOURCE_EXHAUSTED on its own
            p = await sdk_producer(client, self.topic, "sdk")
            for i in itertools.count():
                if self._stop.is_set():
                    return
                payload = b"sdk-%07d-" % i + filler
                self.attempted.add(payload)
                try:
                    off = await p.send(payload, None)
                except Exception as e:  # noqa: BLE001 - it either succeeds or errors
                    self.sdk_errors.append(repr(e))
                    continue
                assert off not in self.acked, f"offset {off} acknowledged twice"
                self.acked[off] = payload

        self._tasks = [asyncio.create_task(raw_sender(p, k)) for k, p in enumerate(self.raws)]
        self._tasks.append(asyncio.create_task(sdk_sender()))

    def enter(self, phase):
        self.phase = phase
        self.acked_after = 0

    async def wait_for(self, cond, timeout, what):
        deadline = time.monotonic() + timeout
        while not cond():
            assert time.monotonic() < deadline, f"{what}: not after {timeout}s; errors {self.raw_errors[-3:]}, " \
                                                f"table {self.table_state()}\n{self.b.log()[-3000:]}"
            await asyncio.sleep(0.1)

    async def check_held_back(self, watch):
        """With the WAL full: once what was in flight settled, nothing more
        is acknowledged and nothing commits for `watch` seconds, while raw
        producers keep being refused."""
        await asyncio.sleep(1.0)
        count, committed = len(self.acked), self.table_state()["committed_offset"]
        refused = len(self.raw_errors)
        await asyncio.sleep(watch)
        assert len(self.acked) == count, f"{len(self.acked) - count} messages acknowledged past the WAL cap"
        assert self.table_state()["committed_offset"] == committed
        assert len(self.raw_errors) > refused, "the raw producers stopped being refused"

    def pushed_back(self, phase):
        return any(p == phase and c == grpc.StatusCode.RESOURCE_EXHAUSTED for p, c, _ in self.raw_errors)

    async def stop(self):
        self._stop.set()
        await asyncio.wait_for(asyncio.gather(*self._tasks), 60)
        for p in self.raws:
            await p.close()

    def check_caught_up(self):
        """Waits until every message in the WAL is committed; its end."""
        d = poll(lambda: (lambda d: d if d["table"]["committed_offset"] == d["wal"]["next_offset"] else None)(
            describe(self.b, self.topic)), 60, "commits caught up with the WAL")
        assert d["table"]["error"] is None
        return d

    def check_table(self, table, end):
        """Every acknowledged message at its offset, each payload once, only
        payloads that were sent."""
        offsets, payloads = table_columns(table, "offset", "payload")
        assert offsets == list(range(end))
        lost = [(o, p[:20]) for o, p in sorted(self.acked.items()) if payloads[o] != p]
        assert not lost, f"{len(lost)} acknowledged messages not at their offset, first {lost[0]}"
        assert len(set(payloads)) == len(payloads), "a payload is in the table twice"
        assert all(p in self.attempted for p in payloads)

    def check_refusals(self, phases):
        """Every refusal came in one of `phases` and was the WAL cap reached
        because storage was unavailable."""
        assert self.raw_errors, "no send was refused"
        assert {p for p, _, _ in self.raw_errors} <= set(phases)
        wrong = [e for e in self.raw_errors if e[1] != grpc.StatusCode.RESOURCE_EXHAUSTED or
                 "storage unavailable" not in e[2]]
        kinds = collections.Counter((p, c.name, d.split(":")[0]) for p, c, d in self.raw_errors)
        assert not wrong, f"{len(wrong)} of {len(self.raw_errors)} refusals are not RESOURCE_EXHAUSTED " \
                          f"'storage unavailable' ({dict(kinds)}), first: {wrong[0]}"


def test_storage_outage_pushes_back_then_commits_every_acknowledged_message(start_broker, tmp_path):
    data = tmp_path / "data"
    topic, ident = "/default/outage", "default.outage"
    b = start_broker(data_dir=data, extra_args=config_args(tmp_path, "outage", OUTAGE))
    b.wait_healthy()
    cat = open_catalog(data)

    def table_state():
        return describe(b, topic)["table"]

    load = ProducersUnderLoad(b, topic, table_state)

    async def main():
        await load.start(cat, ident)

        async def outage(name, start, end):
            load.enter(name)
            await asyncio.to_thread(start)
            await load.wait_for(lambda: load.pushed_back(name), 40, f"{name}: producers pushed back")
            await load.wait_for(lambda: table_state()["error"], 20, f"{name}: table.error set")
            committed = table_state()["committed_offset"]
            await asyncio.sleep(0.5)
            assert table_state()["committed_offset"] == committed  # nothing commits during the outage
            await asyncio.to_thread(end)
            load.enter("after " + name)
            await load.wait_for(lambda: table_state()["error"] is None, 30, f"after {name}: table.error cleared")
            await load.wait_for(lambda: load.acked_after >= 200, 30, f"after {name}: sends succeed again")

        # outage 1: the catalog is locked
        db = data / "catalog.db"
        lock = {}

        def lock_catalog():
            con = sqlite3.connect(str(db), timeout=10, isolation_level=None, check_same_thread=False)
            con.execute("BEGIN EXCLUSIVE")
            lock["con"] = con

        def unlock_catalog():
            lock["con"].execute("ROLLBACK")
            lock["con"].close()

        await outage("catalog locked", lock_catalog, unlock_catalog)

        # outage 2: the table's data directory is a regular file
        data_dir = data / "warehouse" / "default" / "outage" / "data"
        moved = data_dir.with_name("data.moved")
        assert data_dir.is_dir()

        def merge_into(src, dst):
            for f in list(src.iterdir()):
                if f.is_dir() and (dst / f.name).is_dir():
                    merge_into(f, dst / f.name)
                    f.rmdir()
                else:
                    f.rename(dst / f.name)

        def break_warehouse():
            data_dir.rename(moved)
            while True:
                try:
                    fd = os.open(data_dir, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                except (FileExistsError, IsADirectoryError):
                    # A commit created the directory again between the two
                    # steps: keep what it wrote with the rest, and retry.
                    try:
                        merge_into(data_dir, moved)
                        data_dir.rmdir()
                    except OSError:
                        pass
                    continue
                os.write(fd, b"not a directory")
                os.close(fd)
                return

        def repair_warehouse():
            data_dir.unlink()
            moved.rename(data_dir)

        await outage("warehouse broken", break_warehouse, repair_warehouse)
        await load.stop()

    run(main(), timeout=300)

    d = load.check_caught_up()
    end = d["wal"]["next_offset"]
    table = wait_committed(cat, ident, end, b)
    assert d["table"]["snapshot_id"] == table.current_snapshot().snapshot_id
    assert_snapshot_chain(table, end)
    load.check_table(table, end)
    assert all(os.path.exists(f) for f in data_files(table))
    print(f"outage test: {len(load.acked)} acknowledged, {end} committed, {len(load.raw_errors)} refusals, "
          f"{len(load.sdk_errors)} SDK errors")
    load.check_refusals({"catalog locked", "warehouse broken", "after catalog locked", "after warehouse broken"})
    assert b.stop() == 0


# ---------------------------------------------------------------- 5. topic delete

def test_deleted_topic_leaves_nothing_and_starts_again_at_offset_zero(start_broker, tmp_path, warehouse, catalog):
    data = tmp_path / "data"
    args = warehouse.broker_args("delete", catalog.yaml)
    b = start_broker(data_dir=data, extra_args=args)
    b.wait_healthy(timeout=30)
    cat = catalog.open(warehouse, data)
    http = f"127.0.0.1:{b.http_port}"

    def populate(topic, n):
        async def main():
            client = await client_for(b)
            sent = await produce_sdk(b, topic, list(range(n)), producers=2, prefix="old")
            c, _ = await sdk_consumer(client, topic, "doomed", "c")
            await c.close()
            return sent
        sent = run(main())
        assert sorted(sent) == list(range(n))
        ident = topic[1:].replace("/", ".")
        wait_committed(cat, ident, n, b)
        d = describe(b, topic)
        assert [s["name"] for s in d["subscriptions"]] == ["doomed"]
        assert catalog.objects(warehouse, data, ident, "data")
        assert files_under(data / "wal" / ident.replace(".", "/"))

    def assert_gone(topic):
        ns, t = topic[1:].split("/")
        assert not cat.table_exists(f"{ns}.{t}")
        # no file or object under the table's location
        assert catalog.objects(warehouse, data, f"{ns}.{t}") == []
        assert files_under(data / "wal" / ns / t) == []
        status, body = admin(b, "/admin/topics")
        assert status == 200 and topic not in [x["name"] for x in body["topics"]]
        status, body = admin(b, "/admin/topics" + topic)
        assert status == 404 and body["error"], body

    def produce_again(topic, n):
        async def main():
            client = await client_for(b)
            p = await sdk_producer(client, topic, "new")
            offsets = [await p.send(b"new %d" % i, {"gen": "2"}) for i in range(n)]
            await p.close()
            return offsets
        assert run(main()) == list(range(n))
        d = describe(b, topic)
        assert d["subscriptions"] == [] and d["wal"]["next_offset"] == n
        table = wait_committed(cat, topic[1:].replace("/", "."), n, b)
        offsets, payloads, attrs = table_columns(table, "offset", "payload", "attributes")
        assert offsets == list(range(n))
        assert payloads == [b"new %d" % i for i in range(n)]
        assert all(dict(a) == {"gen": "2"} for a in attrs)
        assert snapshot_ranges(table)[0][0] == 0

    # with the CLI
    populate("/default/gone", 2000)
    rc, out, err = cli("topics", "delete", "/default/gone", "--http", http)
    assert rc == 0, (out, err)
    assert_gone("/default/gone")
    # nothing comes back after a restart (WAL, cursor store, catalog)
    assert b.stop() == 0
    b = start_broker(data_dir=data, extra_args=args)
    b.wait_healthy(timeout=30)
    http = f"127.0.0.1:{b.http_port}"
    assert_gone("/default/gone")
    produce_again("/default/gone", 25)

    # over HTTP
    populate("/default/gone2", 500)
    status, body = admin(b, "/admin/topics/default/gone2", method="DELETE")
    assert (status, body) == (200, {"deleted": "/default/gone2"})
    assert_gone("/default/gone2")
    status, body = admin(b, "/admin/topics/default/gone2", method="DELETE")
    assert status == 404 and body["error"]
    produce_again("/default/gone2", 7)
    # the other topic was not touched
    assert describe(b, "/default/gone")["wal"]["next_offset"] == 25
    rc, out, err = cli("topics", "delete", "/default/never-was", "--http", http)
    assert rc == 1 and err.strip(), (out, err)
    assert b.stop() == 0


# ---------------------------------------------------------------- 6. frazil topics

def test_cli_topics_list_describe_delete(start_broker, tmp_path):
    data = tmp_path / "data"
    b = start_broker(data_dir=data)
    b.wait_healthy()
    http = f"127.0.0.1:{b.http_port}"
    cat = open_catalog(data)
    started_ms = time.time() * 1000
    sent = run(produce_sdk(b, "/default/orders", list(range(300)), producers=2))
    assert sorted(sent) == list(range(300))
    audit = run(produce_sdk(b, "/default/audit", list(range(50)), producers=1, prefix="a"))
    assert sorted(audit) == list(range(50))

    # subscription s1 on orders acknowledges 0..99: cursor 100, lag 200; its consumer stays attached
    ch = grpc.insecure_channel(f"127.0.0.1:{b.listen_port}")
    stub = pb_grpc.ConsumerServiceStub(ch)
    cid = stub.Subscribe(pb.ConsumerRequest(request_id=1, topic_name="/default/orders", consumer_name="c1",
                                            subscription="s1", subscription_type=pb.ConsumerRequest.Exclusive),
                         metadata=[EARLIEST], timeout=10).consumer_id
    stream = stub.ReceiveMessages(pb.ReceiveRequest(request_id=2, consumer_id=cid), timeout=60)
    for n, m in enumerate(stream):
        assert m.msg_id.topic_offset == n and m.payload == sent[n].payload
        stub.Ack(pb.AckRequest(request_id=m.request_id, msg_id=m.msg_id, subscription_name="s1"), timeout=10)
        if n == 99:
            break

    orders = wait_committed(cat, "default.orders", 300, b)
    wait_committed(cat, "default.audit", 50, b)
    snap = orders.current_snapshot().snapshot_id
    audit_snap = cat.load_table("default.audit").current_snapshot().snapshot_id
    poll(lambda: describe(b, "/default/orders")["table"]["snapshot_id"] == snap, 10, "describe shows the snapshot")
    pb_grpc.HealthCheckStub(ch).HealthCheck(
        pb.HealthCheckRequest(request_id=3, client=pb.HealthCheckRequest.Consumer, id=cid), timeout=10)

    rc, out, err = cli("topics", "describe", "/default/orders", "--http", http, "--json")
    assert rc == 0, err
    d = json.loads(out)
    assert d["name"] == "/default/orders" and d["reliable"] is True
    assert d["wal"]["low_water_offset"] == 0 and d["wal"]["next_offset"] == 300
    assert d["wal"]["segments"] >= 1 and d["wal"]["bytes"] > 300 * 10
    assert pick(d["table"], TABLE_KEYS) == {"identifier": "default.orders", "snapshot_id": snap,
                                            "committed_offset": 300, "error": None}
    assert [pick(x, SUB_KEYS) for x in d["subscriptions"]] == [
        {"name": "s1", "type": "exclusive", "cursor": 100, "lag": 200, "consumers": 1}]
    # when the last commit of records returned: after the sends began, before now
    assert started_ms <= d["table"]["last_commit_ms"] <= time.time() * 1000, (started_ms, d["table"])
    # where the table is recorded: the embedded catalog on DATA_DIR/catalog.db
    assert d["table"]["catalog"]["type"] == "sql" and d["table"]["catalog"]["name"] == "frazil"
    assert d["table"]["catalog"]["uri"].endswith("catalog.db"), d["table"]["catalog"]
    assert d == describe(b, "/default/orders")

    rc, out, err = cli("topics", "list", "--http", http, "--json")
    assert rc == 0, err
    listed = json.loads(out)
    assert sorted(t["name"] for t in listed["topics"]) == ["/default/audit", "/default/orders"]
    by_name = {t["name"]: t for t in listed["topics"]}
    assert by_name["/default/orders"] == d
    assert by_name["/default/audit"]["wal"]["next_offset"] == 50
    assert pick(by_name["/default/audit"]["table"], TABLE_KEYS) == {
        "identifier": "default.audit", "snapshot_id": audit_snap, "committed_offset": 50, "error": None}
    assert by_name["/default/audit"]["subscriptions"] == []

    # the text forms carry the same facts
    rc, out, err = cli("topics", "list", "--http", http)
    assert rc == 0 and "/default/orders" in out and "/default/audit" in out, (out, err)
    rc, out, err = cli("topics", "describe", "/default/orders", "--http", http)
    assert rc == 0, err
    for fact in ["/default/orders", str(snap), "s1", "frazil (sql) at ", "catalog.db"]:
        assert fact in out, f"{fact!r} missing from:\n{out}"
    for number in ["0", "300", "100", "200"]:
        assert re.search(rf"\b{number}\b", out), f"{number} missing from:\n{out}"

    stream.cancel()
    ch.close()

    # errors
    rc, out, err = cli("topics", "describe", "/default/nope", "--http", http)
    assert rc == 1 and "/default/nope" in err and out == "", (out, err)
    rc, out, err = cli("topics", "describe", "/default/nope", "--http", http, "--json")
    assert rc == 1, (out, err)
    closed = f"127.0.0.1:{free_port()}"
    rc, out, err = cli("topics", "list", "--http", closed)
    assert rc == 1 and err.strip(), (out, err)
    for bad in (["topics"], ["topics", "describe"], ["topics", "frobnicate"], ["topics", "list", "--bogus"],
                ["topics", "describe", "not-a-topic", "--http", http], ["topics", "delete"]):
        rc, out, err = cli(*bad)
        assert rc == 2 and err.strip(), (bad, rc, out, err)

    rc, out, err = cli("topics", "delete", "/default/audit", "--http", http)
    assert rc == 0, err
    rc, out, err = cli("topics", "list", "--http", http, "--json")
    assert rc == 0 and [t["name"] for t in json.loads(out)["topics"]] == ["/default/orders"]
    assert b.stop() == 0
