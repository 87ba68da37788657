"""Issue 11, hostile input at the protocol boundary: a real `frazil serve`,
driven by the `frazil` CLI, the Danube Python SDK and raw gRPC calls (with
hand-encoded requests where the SDK's own messages cannot carry the bytes).

- item 3: `frazil consume` reports a stream's final error and exits 1; the
  broker logs the error it returned, naming topic, subscription, consumer
- item 10: names, keys and attributes must be UTF-8 without NUL
  (INVALID_ARGUMENT naming the field, never INTERNAL)
- item 14: a payload over max_message_bytes gets our INVALID_ARGUMENT (not
  gRPC's retryable RESOURCE_EXHAUSTED): the SDK fails fast
- item 15: publish times Iceberg readers cannot represent are refused
- item 17: a wildcard listen address advertises the host name, or --advertise
"""
import asyncio
import datetime
import json
import pathlib
import socket
import subprocess
import time

import grpc
import pytest
from danube import DanubeClientBuilder, DispatchStrategy
from danube.proto import DanubeApi_pb2 as pb
from danube.proto import DanubeApi_pb2_grpc as pb_grpc
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import NoSuchNamespaceError

from test_topic_storage import poll
from conftest import FRAZIL_BIN, free_port, http_get, varint

EARLIEST = ("x-frazil-initial-position", "earliest")
MAX_PUBLISH_MS = 253402300799999  # 9999-12-31T23:59:59.999Z


def config_args(tmp_path, text):
    path = tmp_path / "frazil.yaml"
    path.write_text(text)
    return ["--config", str(path)]


def admin(b, path):
    status, body = http_get(b.http_port, path)
    assert status == 200, (status, body)
    return json.loads(body)


def open_catalog(data_dir: pathlib.Path) -> SqlCatalog:
    return SqlCatalog("frazil", uri=f"sqlite:///{data_dir / 'catalog.db'}",
                      warehouse=f"file://{data_dir.resolve()}/warehouse")


# Hand-encoded protobuf, for bytes the SDK's messages refuse to carry.
def table_names(cat, namespace):
    """The tables of a namespace; none yet if the broker has not created it
    (a topic's table appears with its first commit)."""
    try:
        return [t[1] for t in cat.list_tables(namespace)]
    except NoSuchNamespaceError:
        return []


def field_bytes(num, data):
    return varint(num << 3 | 2) + varint(len(data)) + data


def field_varint(num, v):
    return varint(num << 3) + varint(v)


def raw_call(port, method, request, response_type, metadata=None):
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        call = ch.unary_unary(method, request_serializer=lambda b: b,
                              response_deserializer=response_type.FromString)
        return call(request, timeout=10, metadata=metadata)


def expect_invalid(fn, *words):
    with pytest.raises(grpc.RpcError) as e:
        fn()
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (e.value.code(), e.value.details())
    for w in words:
        assert w in e.value.details(), (w, e.value.details())
    return e.value.details()


def create_producer(port, topic, name):
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        return pb_grpc.ProducerServiceStub(ch).CreateProducer(
            pb.ProducerRequest(request_id=1, producer_name=name, topic_name=topic,
                               dispatch_strategy=pb.Reliable), timeout=10).producer_id


def send(port, msg):
    with grpc.insecure_channel(f"127.0.0.1:{port}",
                               options=[("grpc.max_send_message_length", -1)]) as ch:
        return pb_grpc.ProducerServiceStub(ch).SendMessage(msg, timeout=30).request_id


# ---------------------------------------------------------------- item 3

DAMAGE = """\
wal:
  sync_mode: none
  segment_bytes: 4096
storage:
  wal_retain_records: 0
  flush_interval_ms: 100
  max_rows: 50
  maintenance_interval_ms: 0
"""


def test_consume_reports_the_stream_error_and_exits_nonzero(start_broker, tmp_path):
    data = tmp_path / "data"
    b = start_broker(data_dir=data, extra_args=config_args(tmp_path, DAMAGE))
    b.wait_healthy()
    topic = "/default/damaged"
    server = f"127.0.0.1:{b.listen_port}"
    rc = subprocess.run([FRAZIL_BIN, "produce", "-s", server, "-t", topic, "-m", "x" * 200, "-c", "300",
                         "-i", "0", "--reliable"], capture_output=True, timeout=60)
    assert rc.returncode == 0, rc.stderr
    # history below the WAL's low-water mark is only in the table
    poll(lambda: admin(b, "/admin/topics" + topic)["wal"]["low_water_offset"] >= 100, 30, "WAL reclaimed")
    files = list((data / "warehouse" / "default" / "damaged" / "data").rglob("*.parquet"))
    assert files
    for f in files:
        f.write_bytes(b"not a parquet file" * 10)

    p = subprocess.run([FRAZIL_BIN, "consume", "-s", server, "-t", topic, "-m", "replay", "-n", "reader",
                        "--from", "earliest", "-c", "300"], capture_output=True, timeout=30)
    err = p.stderr.decode()
    assert p.returncode == 1, (p.returncode, err, p.stdout.decode()[-500:])
    assert "frazil consume: stream from /default/damaged ended" in err, err
    assert "INTERNAL" in err or "gRPC status 13" in err, err
    log = b.log()
    warn = [line for line in log.splitlines() if "stream of consumer 'reader'" in line]
    assert warn, log[-3000:]
    assert "warn" in warn[0] and "subscription 'replay'" in warn[0] and topic in warn[0], warn[0]


# ---------------------------------------------------------------- item 10

def test_names_keys_and_attributes_must_be_utf8_without_nul(start_broker, tmp_path):
    b = start_broker()
    b.wait_healthy()
    port = b.listen_port
    topic = "/default/names"

    def subscribe(sub, consumer="c", filters=()):
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            return pb_grpc.ConsumerServiceStub(ch).Subscribe(
                pb.ConsumerRequest(request_id=1, topic_name=topic, consumer_name=consumer, subscription=sub,
                                   subscription_type=pb.ConsumerRequest.Shared, key_filters=list(filters)),
                metadata=[EARLIEST], timeout=10)

    # NUL: the SDK's messages carry it (it is valid UTF-8); the broker refuses it
    expect_invalid(lambda: subscribe("s\0evil"), "subscription", "NUL")
    expect_invalid(lambda: subscribe("s", consumer="c\0"), "consumer_name", "NUL")
    expect_invalid(lambda: subscribe("s", filters=["k\0*"]), "key_filters", "NUL")
    expect_invalid(lambda: create_producer(port, topic, "p\0x"), "producer_name", "NUL")
    expect_invalid(lambda: subscribe("s" * 257), "subscription", "over the limit")
    assert subscribe("s").consumer_id > 0
    assert subscribe("caf\u00e9 \u20ac").consumer_id > 0  # UTF-8 beyond ASCII is fine

    pid = create_producer(port, topic, "p")

    def message(**kw):
        m = pb.StreamMessage(request_id=2, msg_id=pb.MsgID(producer_id=pid, topic_name=topic), payload=b"\0\xff ok",
                             producer_name="p")
        for k, v in kw.items():
            if k == "attributes":
                m.attributes.update(v)
            else:
                setattr(m, k, v)
        return m

    expect_invalid(lambda: send(port, message(producer_name="p\0x")), "producer_name", "NUL")
    expect_invalid(lambda: send(port, message(routing_key="k\0")), "routing_key", "NUL")
    expect_invalid(lambda: send(port, message(attributes={"a\0b": "v"})), "attribute key", "NUL")
    expect_invalid(lambda: send(port, message(attributes={"a": "v\0"})), "value of attribute 'a'", "NUL")
    # payloads stay arbitrary bytes
    assert send(port, message(attributes={"a": "v"}, routing_key="k")) == 0

    # invalid UTF-8: hand-encoded, as the SDK cannot send it; INVALID_ARGUMENT, not INTERNAL
    req = field_varint(1, 1) + field_bytes(2, b"p\xffx") + field_bytes(3, topic.encode())
    expect_invalid(lambda: raw_call(port, "/danube.ProducerService/CreateProducer", req, pb.ProducerResponse),
                   "producer_name", "UTF-8")
    req = (field_varint(1, 1) + field_bytes(2, topic.encode()) + field_bytes(3, b"c") +
           field_bytes(4, b"s\xc0\xaf") + field_varint(5, 1))
    expect_invalid(lambda: raw_call(port, "/danube.ConsumerService/Subscribe", req, pb.ConsumerResponse,
                                    metadata=[EARLIEST]), "subscription", "UTF-8")
    msg_id = field_varint(1, pid) + field_bytes(2, topic.encode())
    base = field_varint(1, 3) + field_bytes(2, msg_id) + field_bytes(3, b"payload")
    expect_invalid(lambda: raw_call(port, "/danube.ProducerService/SendMessage",
                                    base + field_bytes(5, b"p") + field_bytes(10, b"\xed\xa0\x80"),
                                    pb.MessageResponse), "routing_key", "UTF-8")
    entry = field_bytes(1, b"a") + field_bytes(2, b"\xff")
    expect_invalid(lambda: raw_call(port, "/danube.ProducerService/SendMessage",
                                    base + field_bytes(5, b"p") + field_bytes(7, entry), pb.MessageResponse),
                   "value of attribute 'a'", "UTF-8")
    entry = field_bytes(1, b"k\xff") + field_bytes(2, b"v")
    expect_invalid(lambda: raw_call(port, "/danube.ProducerService/SendMessage",
                                    base + field_bytes(5, b"p") + field_bytes(7, entry), pb.MessageResponse),
                   "attribute key", "UTF-8")
    details = expect_invalid(lambda: raw_call(port, "/danube.Discovery/TopicLookup",
                                              field_varint(1, 1) + field_bytes(2, b"/default/t\xff"),
                                              pb.TopicLookupResponse), "invalid topic name")
    assert "\\xff" in details, details

    # what was refused never reached the metadata store: only "s" and the UTF-8 name, byte for byte
    subs = sorted(s["name"] for s in admin(b, "/admin/topics" + topic)["subscriptions"])
    assert subs == ["caf\u00e9 \u20ac", "s"], subs
    assert b.stop() == 0


# ---------------------------------------------------------------- item 14

def test_oversize_payload_is_refused_by_our_limit_and_the_sdk_does_not_retry(start_broker, tmp_path):
    b = start_broker()
    b.wait_healthy()
    topic = "/default/big"

    async def main():
        client = await DanubeClientBuilder().service_url(f"http://127.0.0.1:{b.listen_port}").build()
        p = (client.new_producer().with_topic(topic).with_name("big")
             .with_dispatch_strategy(DispatchStrategy.RELIABLE).build())
        await p.create()
        assert await p.send(b"x" * (5 << 20), None) == 0  # exactly the limit
        t0 = time.monotonic()
        with pytest.raises(Exception) as e:
            await asyncio.wait_for(p.send(b"y" * (7 << 20), None), 60)
        took = time.monotonic() - t0
        assert not isinstance(e.value, asyncio.TimeoutError), "the SDK kept retrying a 7 MiB send for 60 s"
        assert took < 10, took
        assert "over the limit" in str(e.value), repr(e.value)
        assert await p.send(b"small", None) == 1

    asyncio.run(main())

    pid = create_producer(b.listen_port, topic, "raw")
    for size in (6 << 20, 40 << 20):
        expect_invalid(lambda: send(b.listen_port, pb.StreamMessage(
            request_id=1, msg_id=pb.MsgID(producer_id=pid), payload=b"z" * size)), "over the limit")
    # the envelope (names, keys, attributes) is bounded too
    expect_invalid(lambda: send(b.listen_port, pb.StreamMessage(
        request_id=1, msg_id=pb.MsgID(producer_id=pid), payload=b"z",
        attributes={f"k{i}": "v" * 60000 for i in range(20)})), "names, keys and attributes", "over the limit")
    # beyond gRPC's own ceiling (64 MiB) gRPC refuses it; the broker stays up
    with pytest.raises(grpc.RpcError) as e:
        send(b.listen_port, pb.StreamMessage(request_id=1, msg_id=pb.MsgID(producer_id=pid),
                                             payload=b"w" * (80 << 20)))
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, e.value
    assert send(b.listen_port, pb.StreamMessage(request_id=1, msg_id=pb.MsgID(producer_id=pid),
                                                payload=b"after")) == 2
    assert b.stop() == 0


# ---------------------------------------------------------------- item 15

def test_publish_times_outside_what_iceberg_readers_represent_are_refused(start_broker, tmp_path):
    data = tmp_path / "data"
    b = start_broker(data_dir=data, extra_args=config_args(tmp_path, "storage:\n  flush_interval_ms: 100\n"))
    b.wait_healthy()
    topic = "/default/times"
    pid = create_producer(b.listen_port, topic, "p")

    def msg(t):
        return pb.StreamMessage(request_id=1, msg_id=pb.MsgID(producer_id=pid), payload=b"%d" % t,
                                publish_time=t, producer_name="p")

    for t in (MAX_PUBLISH_MS + 1, 2 ** 53, 2 ** 63 - 1, 2 ** 64 - 1):
        expect_invalid(lambda: send(b.listen_port, msg(t)), "publish_time", "9999-12-31")
    before = int(time.time() * 1000)
    accepted = [0, 1, 1_700_000_000_000, MAX_PUBLISH_MS]
    offsets = [send(b.listen_port, msg(t)) for t in accepted]
    assert offsets == [0, 1, 2, 3]

    cat = open_catalog(data)
    poll(lambda: int(cat.load_table("default.times").properties.get("frazil.committed-offset", 0)) == 4
         if "times" in table_names(cat, "default") else False, 30, "committed")
    table = cat.load_table("default.times")
    rows = table.scan().to_arrow().sort_by("offset").to_pylist()  # PyIceberg reads every partition
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    got = [(r["publish_time"] - epoch) // datetime.timedelta(milliseconds=1) for r in rows]
    assert got[1:] == [1, 1_700_000_000_000, MAX_PUBLISH_MS], got
    assert before <= got[0] <= int(time.time() * 1000) + 1000, got  # 0 means "now"
    assert [r["payload"] for r in rows] == [b"0", b"1", b"1700000000000", b"%d" % MAX_PUBLISH_MS]
    assert b.stop() == 0


# ---------------------------------------------------------------- item 17

def serve_on(tmp_path, name, *args):
    port, http = free_port(), free_port()
    log = open(tmp_path / f"{name}.log", "wb")
    proc = subprocess.Popen([FRAZIL_BIN, "serve", "--data-dir", str(tmp_path / name), "--listen",
                             f"0.0.0.0:{port}", "--http", f"127.0.0.1:{http}",
                             "--admin", f"127.0.0.1:{free_port()}", *args],
                            stdout=log, stderr=subprocess.STDOUT)
    poll(lambda: proc.poll() is not None or _up(http), 10, "broker up")
    assert proc.poll() is None, (tmp_path / f"{name}.log").read_text()
    return proc, port


def _up(http):
    try:
        return http_get(http, "/healthz", timeout=0.5)[0] == 200
    except Exception:  # noqa: BLE001 - not listening yet
        return False


def lookup(port, topic="/default/t"):
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        return pb_grpc.DiscoveryStub(ch).TopicLookup(pb.TopicLookupRequest(request_id=1, topic=topic), timeout=10)


def test_wildcard_listen_advertises_the_host_name_or_the_advertised_address(tmp_path):
    procs = []
    try:
        proc, port = serve_on(tmp_path, "plain")
        procs.append(proc)
        r = lookup(port)
        assert r.connect_url == f"http://{socket.gethostname()}:{port}", r
        assert r.broker_url == r.connect_url

        proc, port = serve_on(tmp_path, "flag", "--advertise", "broker.example.net:7001")
        procs.append(proc)
        r = lookup(port)
        assert (r.connect_url, r.broker_url) == ("http://broker.example.net:7001",) * 2, r
        # message ids carry it too
        pid = create_producer(port, "/default/t", "p")
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            c = pb_grpc.ConsumerServiceStub(ch)
            cid = c.Subscribe(pb.ConsumerRequest(request_id=1, topic_name="/default/t", consumer_name="c",
                                                 subscription="s"), metadata=[EARLIEST], timeout=10).consumer_id
            send(port, pb.StreamMessage(request_id=2, msg_id=pb.MsgID(producer_id=pid), payload=b"m"))
            stream = c.ReceiveMessages(pb.ReceiveRequest(request_id=3, consumer_id=cid), timeout=10)
            m = next(stream)
            stream.cancel()
        assert m.msg_id.broker_addr == "http://broker.example.net:7001", m

        cfg = tmp_path / "adv.yaml"
        cfg.write_text("advertised_address: '[2001:db8::5]:6650'\n")
        proc, port = serve_on(tmp_path, "config", "--config", str(cfg))
        procs.append(proc)
        assert lookup(port).connect_url == "http://[2001:db8::5]:6650"

        bad = subprocess.run([FRAZIL_BIN, "serve", "--data-dir", str(tmp_path / "bad"), "--listen",
                              f"0.0.0.0:{free_port()}", "--http", f"127.0.0.1:{free_port()}",
                              "--admin", f"127.0.0.1:{free_port()}", "--advertise", "0.0.0.0:1"], capture_output=True, timeout=10)
        assert bad.returncode == 2, bad
        assert b"--advertise" in bad.stdout + bad.stderr
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)
