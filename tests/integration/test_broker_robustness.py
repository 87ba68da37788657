"""Issue 11: what a production broker must survive without losing an
acknowledged message. Real `frazil serve` processes, the Danube SDK's own
stubs, PyIceberg on the broker's catalog.

- a second broker on the same data directory refuses to start, naming the holder
- topic deletes racing producers: no INTERNAL error, and nothing acknowledged
  after a delete is lost (across a restart)
- the catalog database lost (deleted, or truncated to 0 bytes): the table is
  registered again, no committed data file is removed, commits continue
- a WAL whose tail was lost after it was committed continues at the table's
  offset (no offset given out twice); a damaged sealed segment whose records
  are all in the table does not stop the broker
- a full disk: retryable RESOURCE_EXHAUSTED "storage full", then everything
  acknowledged is committed once space is freed
"""
import asyncio
import os
import subprocess
import time
import uuid

import grpc
import pytest
from danube.proto import DanubeApi_pb2 as pb
from danube.proto import DanubeApi_pb2_grpc as pb_grpc

from test_topic_storage import (EARLIEST, RawProducer, admin, config_args, describe, open_catalog, poll, run,
                                wait_committed)

QUICK = """wal:
  sync_mode: none
storage:
  flush_interval_ms: 100
  max_rows: 100
"""


def table_rows(cat, ident):
    """{offset: payload} of the table's rows (PyIceberg scan); offsets must be unique."""
    arrow = cat.load_table(ident).scan().to_arrow()
    offsets, payloads = arrow["offset"].to_pylist(), arrow["payload"].to_pylist()
    assert len(set(offsets)) == len(offsets), "an offset is in the table twice"
    return dict(zip(offsets, payloads))


def replay_from_earliest(b, topic, sub, count, timeout=60):
    """Subscribes from the oldest message and reads `count` messages over a
    raw stream, acking each; returns [(offset, payload)]."""
    ch = grpc.insecure_channel(f"127.0.0.1:{b.listen_port}")
    try:
        stub = pb_grpc.ConsumerServiceStub(ch)
        resp = stub.Subscribe(pb.ConsumerRequest(request_id=1, topic_name=topic, consumer_name="c",
                                                 subscription=sub,
                                                 subscription_type=pb.ConsumerRequest.Exclusive),
                              metadata=[EARLIEST], timeout=10)
        out = []
        stream = stub.ReceiveMessages(pb.ReceiveRequest(request_id=2, consumer_id=resp.consumer_id),
                                      timeout=timeout)
        for m in stream:
            out.append((m.msg_id.topic_offset, m.payload))
            stub.Ack(pb.AckRequest(request_id=3, msg_id=m.msg_id, subscription_name=sub), timeout=10)
            if len(out) >= count:
                stream.cancel()
                break
        return out
    finally:
        ch.close()


async def send_n(port, topic, n, prefix):
    p = RawProducer(port, topic, "p-" + uuid.uuid4().hex[:6])
    await p.create()
    offsets = {}
    for i in range(n):
        payload = f"{prefix}-{i}".encode()
        offsets[await p.send(payload)] = payload
    await p.close()
    return offsets


# ---------------------------------------------------------------- data directory lock

def test_second_broker_on_the_same_data_dir_exits_naming_the_holder(start_broker, tmp_path):
    first = start_broker(extra_args=config_args(tmp_path, "c", QUICK))
    first.wait_healthy()
    sent = run(send_n(first.listen_port, "/lock/t", 20, "m"))
    second = start_broker()  # same data directory, other ports
    assert second.proc.wait(timeout=20) == 1
    log = second.log()
    assert f"in use by another frazil process (pid {first.proc.pid})" in log, log
    # It touched nothing: no WAL opened, no commit attempted.
    assert "opened WAL" not in log and "topic table" not in log, log
    more = run(send_n(first.listen_port, "/lock/t", 5, "n"))
    assert sorted(more) == list(range(20, 25)), (sorted(sent), sorted(more))
    assert first.stop() == 0
    # Once the holder is gone the directory can be used again.
    third = start_broker()
    third.wait_healthy()


# ---------------------------------------------------------------- delete racing producers

async def race_deletes(b, topic, deletes, log):
    """One producer sends as fast as it can (making a new producer after a
    delete) while `deletes` topic deletes happen; returns (acks, delete end
    times, errors). acks: [(time acknowledged, payload)]."""
    ch = grpc.aio.insecure_channel(f"127.0.0.1:{b.listen_port}")
    stub = pb_grpc.ProducerServiceStub(ch)
    acks, errors, delete_ends = [], [], []
    stop = asyncio.Event()

    async def producer():
        pid, n = None, 0
        while not stop.is_set():
            try:
                if pid is None:
                    r = await stub.CreateProducer(pb.ProducerRequest(request_id=1, producer_name="racer",
                                                                     topic_name=topic,
                                                                     dispatch_strategy=pb.Reliable), timeout=10)
                    pid = r.producer_id
                payload = b"race-%d" % n
                await stub.SendMessage(pb.StreamMessage(request_id=n, msg_id=pb.MsgID(producer_id=pid,
                                                                                      topic_name=topic),
                                                        payload=payload, producer_name="racer"), timeout=10)
                acks.append((time.monotonic(), payload))
                n += 1
            except grpc.aio.AioRpcError as e:
                if e.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.NOT_FOUND):
                    errors.append(f"{e.code().name}: {e.details()}")
                pid = None
                await asyncio.sleep(0.005)

    task = asyncio.create_task(producer())
    for _ in range(deletes):
        await asyncio.sleep(0.05)
        status, body = await asyncio.to_thread(admin, b, "/admin/topics" + topic, "DELETE")
        assert status in (200, 404), (status, body)
        delete_ends.append(time.monotonic())
    # More sends after the last delete: a count, not a time (a loaded
    # machine acknowledged only one in half a second).
    deadline = time.monotonic() + 30
    while sum(1 for t, _ in acks if t > delete_ends[-1]) < 50 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    stop.set()
    await task
    await ch.close()
    return acks, delete_ends, errors


def test_topic_deletes_racing_producers_lose_nothing_acknowledged_after_them(start_broker, tmp_path):
    cfg = config_args(tmp_path, "c", QUICK)
    b = start_broker(extra_args=cfg)
    b.wait_healthy()
    acks, delete_ends, errors = run(race_deletes(b, "/race/t", 30, b.log))
    assert not errors, errors[:5]
    survivors = [p for t, p in acks if t > delete_ends[-1]]
    assert len(survivors) > 10, (len(acks), len(survivors))
    assert b.stop() == 0
    b2 = start_broker(extra_args=cfg)
    b2.wait_healthy()
    # What was acknowledged after the last delete is the topic now, after a restart.
    got = replay_from_earliest(b2, "/race/t", "after", len(survivors), timeout=30)
    assert [p for _, p in got] == survivors
    assert [o for o, _ in got] == list(range(len(survivors)))
    cat = open_catalog(tmp_path / "data")
    wait_committed(cat, "race.t", len(survivors), b2)
    rows = table_rows(cat, "race.t")
    assert sorted(rows.values()) == sorted(survivors)
    assert "does not exist" not in b2.log()


# ---------------------------------------------------------------- catalog lost

@pytest.mark.parametrize("how", ["deleted", "truncated"])
def test_lost_catalog_keeps_committed_data(start_broker, tmp_path, how):
    cfg = config_args(tmp_path, "c", QUICK + "  orphan_min_age_ms: 0\n  maintenance_interval_ms: 200\n")
    b = start_broker(extra_args=cfg)
    b.wait_healthy()
    sent = run(send_n(b.listen_port, "/lost/t", 600, "a"))
    data = tmp_path / "data"
    cat = open_catalog(data)
    wait_committed(cat, "lost.t", 600, b)
    assert b.stop() == 0
    files_before = sorted(p for p in (data / "warehouse" / "lost" / "t" / "data").rglob("*.parquet"))
    assert files_before
    db = data / "catalog.db"
    # Our own reader lets go of the database first: the catalog is in WAL
    # mode, and a process that keeps a database open while its file is
    # truncated under it sees I/O errors (SQLite shares the WAL index per
    # file within a process), which is not what this test is about.
    cat.engine.dispose()
    if how == "deleted":
        db.unlink()
    else:
        db.write_bytes(b"")
    b2 = start_broker(extra_args=cfg)
    b2.wait_healthy()
    more = run(send_n(b2.listen_port, "/lost/t", 100, "b"))
    assert sorted(more) == list(range(600, 700))
    cat = open_catalog(data)
    wait_committed(cat, "lost.t", 700, b2)
    time.sleep(1.0)  # orphan removal (age 0) has run at least once more
    rows = table_rows(cat, "lost.t")
    assert rows == {**sent, **more}
    assert "registered it again" in b2.log(), b2.log()[-3000:]
    # No committed data file was taken for an orphan (snapshots expire after
    # 10 minutes, so even files compacted away are still there).
    assert [f for f in files_before if not f.exists()] == []
    replayed = replay_from_earliest(b2, "/lost/t", "s", 700)
    assert [o for o, _ in replayed] == list(range(700))


# ---------------------------------------------------------------- WAL behind its table

def last_wal_segment(data, ns, t):
    segs = sorted((data / "wal" / ns / t).glob("*.wal"))
    assert segs
    return segs


def test_wal_whose_tail_was_lost_continues_after_the_table(start_broker, tmp_path):
    cfg = config_args(tmp_path, "c", QUICK + "  wal_retain_records: 100000\n")
    b = start_broker(extra_args=cfg)
    b.wait_healthy()
    sent = run(send_n(b.listen_port, "/behind/t", 600, "a"))
    data = tmp_path / "data"
    cat = open_catalog(data)
    wait_committed(cat, "behind.t", 600, b)
    assert b.stop() == 0
    # The WAL loses its last records (a torn tail after a crash): it ends before the table does.
    seg = last_wal_segment(data, "behind", "t")[-1]
    size = seg.stat().st_size
    with open(seg, "r+b") as f:
        f.truncate(size - 40)
    b2 = start_broker(extra_args=cfg)
    b2.wait_healthy()
    more = run(send_n(b2.listen_port, "/behind/t", 10, "b"))
    assert sorted(more) == list(range(600, 610)), sorted(more)
    wait_committed(cat, "behind.t", 610, b2)
    assert table_rows(cat, "behind.t") == {**sent, **more}
    replayed = replay_from_earliest(b2, "/behind/t", "s", 610)
    assert replayed == sorted({**sent, **more}.items())


def test_damaged_sealed_segment_under_committed_data_stops_nothing(start_broker, tmp_path):
    cfg = config_args(tmp_path, "c", "wal:\n  sync_mode: none\n  segment_bytes: 4096\nstorage:\n"
                      "  flush_interval_ms: 100\n  max_rows: 100\n  wal_retain_records: 100000\n")
    b = start_broker(extra_args=cfg)
    b.wait_healthy()
    sent = run(send_n(b.listen_port, "/dmg/t", 600, "a"))
    healthy = run(send_n(b.listen_port, "/dmg/ok", 50, "h"))
    data = tmp_path / "data"
    cat = open_catalog(data)
    wait_committed(cat, "dmg.t", 600, b)
    wait_committed(cat, "dmg.ok", 50, b)
    assert b.stop() == 0
    segs = last_wal_segment(data, "dmg", "t")
    assert len(segs) >= 3, segs
    victim = segs[1]  # sealed, and every record of it is in the table
    raw = bytearray(victim.read_bytes())
    raw[len(raw) // 2] ^= 0x40
    victim.write_bytes(bytes(raw))
    b2 = start_broker(extra_args=cfg)
    b2.wait_healthy()
    more = run(send_n(b2.listen_port, "/dmg/t", 10, "b"))
    assert sorted(more) == list(range(600, 610))
    assert sorted(run(send_n(b2.listen_port, "/dmg/ok", 5, "i"))) == list(range(50, 55))
    wait_committed(cat, "dmg.t", 610, b2)
    replayed = replay_from_earliest(b2, "/dmg/t", "s", 610)
    assert replayed == sorted({**sent, **more}.items())
    assert healthy


# ---------------------------------------------------------------- disk full

@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)])


def test_full_disk_is_retryable_and_drains_once_space_is_free(start_broker, tmp_path, small_disk):
    data = small_disk / "data"
    cfg = config_args(tmp_path, "c", "wal:\n  sync_mode: none\n  segment_bytes: 1048576\n"
                      "  max_total_bytes: 1073741824\nstorage:\n  flush_interval_ms: 200\n"
                      "  max_bytes: 67108864\n  max_rows: 1000000\n  commit_max_backoff_ms: 500\n")
    b = start_broker(data_dir=data, extra_args=cfg)
    b.wait_healthy()

    async def fill():
        p = RawProducer(b.listen_port, "/full/t", "filler")
        await p.create()
        acked, refusals = {}, []
        i = 0
        payload = os.urandom(32 * 1024)
        while len(refusals) < 5 and i < 5000:
            try:
                acked[await p.send(payload + b"%d" % i)] = payload + b"%d" % i
            except grpc.aio.AioRpcError as e:
                refusals.append((e.code(), e.details()))
            i += 1
        await p.close()
        return acked, refusals

    # Ballast leaves room for little more than the broker's own files.
    ballast = small_disk / "ballast"
    with open(ballast, "wb") as f:
        f.write(b"\0" * (30 << 20))
    acked, refusals = run(fill())
    assert refusals, "the disk never filled"
    for code, details in refusals:
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, (code, details)
        assert "storage full" in details or "storage unavailable" in details, details
    assert acked
    ballast.unlink()
    cat = open_catalog(data)
    wait_committed(cat, "full.t", len(acked), b, timeout=120)
    assert table_rows(cat, "full.t") == acked
    # Sends work again.
    more = run(send_n(b.listen_port, "/full/t", 5, "after"))
    assert sorted(more) == list(range(len(acked), len(acked) + 5))
    assert b.stop() == 0


REPLAY_FROM_TABLE = """wal:
  sync_mode: none
  segment_bytes: 65536
storage:
  flush_interval_ms: 100
  wal_retain_records: 0
"""


def test_a_consumer_that_neither_acks_nor_heartbeats_gets_its_messages_at_once(start_broker, tmp_path):
    """A replay must not wait for the consumer to send anything. The stream
    coalesces writes with gRPC's buffer hint while more messages are ready;
    gRPC completes the stream's first write (which carries its initial
    metadata) only once it is on the wire, and a buffered write does not
    start one. So when the first write went out buffered (more records were
    ready at once, as when a replay's first table data arrives), the stream
    stalled before its first message until the consumer's next request:
    seconds for a Danube client (health checks every 5 s), for ever for one
    that sends nothing. It is a race (about 1 replay in 30 stalled), hence
    many topics, each replayed once from its table on a connection of its
    own."""
    b = start_broker(tmp_path / "data", extra_args=config_args(tmp_path, "table", REPLAY_FROM_TABLE))
    b.wait_healthy()
    topics, n = [f"/default/quiet{k}" for k in range(60)], 200

    async def fill():
        await asyncio.gather(*[send_n(b.listen_port, t, n, "x" * 1000) for t in topics])
    run(fill(), timeout=120)
    for t in topics:
        poll(lambda: describe(b, t)["wal"]["low_water_offset"] >= n - 120, 30, f"{t}: the WAL reclaimed")
    stalled = []
    for t in topics:
        ch = grpc.insecure_channel(f"127.0.0.1:{b.listen_port}")
        try:
            stub = pb_grpc.ConsumerServiceStub(ch)
            resp = stub.Subscribe(pb.ConsumerRequest(request_id=1, topic_name=t, consumer_name="c",
                                                     subscription="quiet",
                                                     subscription_type=pb.ConsumerRequest.Exclusive),
                                  metadata=[EARLIEST], timeout=10)
            stream = stub.ReceiveMessages(pb.ReceiveRequest(request_id=2, consumer_id=resp.consumer_id),
                                          timeout=5)
            got = []
            try:
                for m in stream:
                    got.append(m.msg_id.topic_offset)
                    if len(got) == n:
                        stream.cancel()
                        break
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.CANCELLED:
                    stalled.append((t, len(got), e.code().name))
                    continue
            assert got == list(range(n)), t
        finally:
            ch.close()
    assert not stalled, f"{len(stalled)} of {len(topics)} replays stopped short of {n} messages in 5 s " \
                        f"(topic, messages, code): {stalled[:5]}"
