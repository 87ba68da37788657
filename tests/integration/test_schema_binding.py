"""Issue 15: producers bound to schema subjects, the schema id and version
stamped on stored messages and delivered to consumers, validation on produce
per the topic's policy, and the per-topic configuration across a restart and
a topic delete. Driven by the Danube Python SDK, and by raw gRPC with the
SDK's own stubs for what the SDK does not send (a producer whose messages
carry no schema fields, a foreign schema id)."""
import asyncio
import json
import struct

import grpc
import pytest
from danube import DanubeClientBuilder, DispatchStrategy
from danube.proto import DanubeApi_pb2 as pb
from danube.proto import DanubeApi_pb2_grpc as pb_grpc
from danube.schema import SchemaType
from prometheus_client.parser import text_string_to_metric_families

from conftest import http_get
from test_topic_storage import admin

FAST = "client_timeout_ms: 8000\nwal:\n  sync_mode: none\n"
EVENT_V1 = json.dumps({"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}).encode()
# Adds an optional property: backward compatible (the subject's default mode).
EVENT_V2 = json.dumps({"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
                       "required": ["id"]}).encode()
USER = json.dumps({"type": "record", "name": "U", "fields": [{"name": "id", "type": "long"}]}).encode()


def run(coro, timeout=120):
    return asyncio.run(asyncio.wait_for(coro, timeout))


@pytest.fixture
def fast(tmp_path):
    cfg = tmp_path / "fast.yaml"
    cfg.write_text(FAST)
    return ["--config", str(cfg)]


async def client_for(b):
    return await DanubeClientBuilder().service_url(f"http://127.0.0.1:{b.listen_port}").build()


class Raw:
    """ProducerService calls with the SDK's messages."""

    def __init__(self, b):
        self.channel = grpc.aio.insecure_channel(f"127.0.0.1:{b.listen_port}")
        self.stub = pb_grpc.ProducerServiceStub(self.channel)
        self.n = 0

    async def producer(self, topic, name, subject=None, **version):
        req = pb.ProducerRequest(request_id=1, producer_name=name, topic_name=topic,
                                 dispatch_strategy=pb.Reliable)
        if subject is not None:
            req.schema_ref.CopyFrom(pb.SchemaReference(subject=subject, **version))
        return (await self.stub.CreateProducer(req)).producer_id

    async def send(self, pid, topic, payload, schema_id=None, schema_version=None):
        self.n += 1
        m = pb.StreamMessage(request_id=self.n, msg_id=pb.MsgID(producer_id=pid, topic_name=topic),
                             payload=payload, producer_name="raw")
        if schema_id is not None:
            m.schema_id = schema_id
        if schema_version is not None:
            m.schema_version = schema_version
        return (await self.stub.SendMessage(m)).request_id

    async def refused(self, code, words, call):
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await call
        assert e.value.code() == code, e.value.details()
        assert words in e.value.details(), e.value.details()
        return e.value.details()


async def consumer(client, topic, sub):
    c = (client.new_consumer().with_topic(topic).with_consumer_name(sub).with_subscription(sub).build())
    await c.subscribe()
    return c, await c.receive()


async def drain(q, n, timeout=10):
    return [await asyncio.wait_for(q.get(), timeout) for _ in range(n)]


async def nothing_more(q, wait=0.5):
    try:
        return await asyncio.wait_for(q.get(), wait)
    except asyncio.TimeoutError:
        return None


def failures(b):
    """{(topic, reason, action): count} of frazil_schema_validation_failures_total."""
    status, text = http_get(b.http_port, "/metrics", timeout=10)
    assert status == 200
    out = {}
    for f in text_string_to_metric_families(text):
        if f.name == "frazil_schema_validation_failures":
            for s in f.samples:
                if s.name.endswith("_total"):
                    out[(s.labels["topic"], s.labels["reason"], s.labels["action"])] = s.value
    return out


def test_producers_bind_and_messages_carry_their_schema(start_broker, fast):
    b = start_broker(extra_args=fast)
    b.wait_healthy()
    topic = "/default/bound"

    async def main():
        client = await client_for(b)
        reg = client.schema()
        sid = await reg.register_schema("events").with_type(SchemaType.JSON_SCHEMA).with_schema_data(EVENT_V1).execute()
        assert await reg.register_schema("events").with_type(SchemaType.JSON_SCHEMA).with_schema_data(
            EVENT_V2).execute() == sid
        other = await reg.register_schema("other").with_type(SchemaType.STRING).with_schema_data(b"-").execute()
        # The SDK's producer pinned to version 1: the first producer that
        # names a subject binds the topic to it (policy warn, as Danube).
        p = (client.new_producer().with_topic(topic).with_name("sdk").with_schema_version("events", 1)
             .with_dispatch_strategy(DispatchStrategy.RELIABLE).build())
        await p.create()
        cfg = await reg.get_topic_schema_config(topic)
        assert (cfg.schema_subject, cfg.validation_policy, cfg.enable_payload_validation, cfg.schema_id) == (
            "events", "warn", False, sid)
        c, q = await consumer(client, topic, "s")
        raw = Raw(b)
        # Raw producers send no schema fields: the broker stamps their binding.
        latest = await raw.producer(topic, "latest", "events", use_latest=True)
        minimum = await raw.producer(topic, "min", "events", min_version=2)
        pinned = await raw.producer(topic, "pinned", "events", pinned_version=1)
        await p.send(b'{"id": 1}')  # the SDK sends (sid, 1) itself
        await raw.send(latest, topic, b'{"id": 2}')
        await raw.send(minimum, topic, b'{"id": 3}')
        await raw.send(pinned, topic, b'{"id": 4}')
        got = await drain(q, 4)
        assert [(json.loads(m.payload)["id"], m.schema_id, m.schema_version) for m in got] == [
            (1, sid, 1), (2, sid, 2), (3, sid, 2), (4, sid, 1)]
        for m in got:
            await c.ack(m)
        # References that resolve to nothing, and another subject: refused.
        await raw.refused(grpc.StatusCode.NOT_FOUND, "'nope' is not registered",
                          raw.producer(topic, "x1", "nope", use_latest=True))
        await raw.refused(grpc.StatusCode.NOT_FOUND, "has no version 9",
                          raw.producer(topic, "x2", "events", pinned_version=9))
        await raw.refused(grpc.StatusCode.NOT_FOUND, "minimum 3",
                          raw.producer(topic, "x3", "events", min_version=3))
        await raw.refused(grpc.StatusCode.FAILED_PRECONDITION, "uses schema subject 'events', cannot use 'other'",
                          raw.producer(topic, "x4", "other", use_latest=True))
        # Under warn a message of another subject is stored, counted and logged.
        await raw.send(latest, topic, b"hello", schema_id=other, schema_version=1)
        (m,) = await drain(q, 1)
        assert (m.payload, m.schema_id) == (b"hello", other)
        await c.ack(m)
        assert failures(b)[(topic, "subject_mismatch", "stored")] == 1
        # An id the registry does not know is refused even under warn (as Danube).
        await raw.refused(grpc.StatusCode.PERMISSION_DENIED, "schema id 987654 is not in the registry",
                          raw.send(latest, topic, b"{}", schema_id=987654))
        assert await nothing_more(q) is None
        await raw.channel.close()
        await p.close()
        await c.close()
    run(main())
    assert b.stop() == 0


def test_validation_policies_restart_and_topic_delete(start_broker, fast):
    b = start_broker(extra_args=fast)
    b.wait_healthy()
    topic, avro_topic, num_topic = "/default/checked", "/default/avro", "/default/num"

    async def main():
        client = await client_for(b)
        reg = client.schema()
        sid = await reg.register_schema("ev").with_type(SchemaType.JSON_SCHEMA).with_schema_data(EVENT_V1).execute()
        uid = await reg.register_schema("users").with_type(SchemaType.AVRO).with_schema_data(USER).execute()
        nid = await reg.register_schema("nums").with_type(SchemaType.NUMBER).with_schema_data(b"-").execute()
        raw = Raw(b)
        pid = await raw.producer(topic, "p", "ev")
        apid = await raw.producer(avro_topic, "p", "users")
        npid = await raw.producer(num_topic, "p", "nums")
        # Bad configuration calls: clear errors.
        await raw.refused(grpc.StatusCode.INVALID_ARGUMENT, "'none', 'warn', or 'enforce'",
                          reg.configure_topic_schema(topic, "ev", "strict", True))
        await raw.refused(grpc.StatusCode.NOT_FOUND, "subject 'missing' not found",
                          reg.configure_topic_schema(topic, "missing", "enforce", True))
        await raw.refused(grpc.StatusCode.NOT_FOUND, "not found on this broker",
                          reg.configure_topic_schema("/default/absent", "ev", "enforce", True))
        await raw.refused(grpc.StatusCode.NOT_FOUND, "not found on this broker",
                          reg.get_topic_schema_config("/default/absent"))
        for t in (topic, avro_topic, num_topic):
            ok, _ = await reg.configure_topic_schema(t, {topic: "ev", avro_topic: "users", num_topic: "nums"}[t],
                                                     "ENFORCE", True)
            assert ok
        c, q = await consumer(client, topic, "s")
        assert await raw.send(pid, topic, b'{"id": 1}') == 0
        details = await raw.refused(grpc.StatusCode.PERMISSION_DENIED, "payload does not match version 1",
                                    raw.send(pid, topic, b'{"id": "one"}'))
        assert "id" in details
        await raw.refused(grpc.StatusCode.PERMISSION_DENIED, "not valid JSON", raw.send(pid, topic, b"{nope"))
        await raw.refused(grpc.StatusCode.PERMISSION_DENIED, "nested more than",
                          raw.send(pid, topic, b"[" * 100000))
        # Avro: one datum of the schema (id 21 as a zig-zag varint), nothing after it.
        await raw.send(apid, avro_topic, bytes([42]))
        await raw.refused(grpc.StatusCode.PERMISSION_DENIED, "after the Avro datum",
                          raw.send(apid, avro_topic, bytes([42, 0])))
        await raw.refused(grpc.StatusCode.PERMISSION_DENIED, "not an Avro datum",
                          raw.send(apid, avro_topic, bytes([0x80])))
        await raw.send(npid, num_topic, struct.pack("<d", 2.5))
        await raw.refused(grpc.StatusCode.PERMISSION_DENIED, "not a number", raw.send(npid, num_topic, b"2.5"))
        # Warn: the bad payload is stored and delivered, counted.
        ok, _ = await reg.update_topic_validation_policy(topic, "warn", True)
        assert ok
        assert await raw.send(pid, topic, b'{"id": "two"}') == 1
        got = await drain(q, 2)
        assert [(m.payload, m.schema_id, m.schema_version) for m in got] == [
            (b'{"id": 1}', sid, 1), (b'{"id": "two"}', sid, 1)]
        for m in got:
            await c.ack(m)
        assert await nothing_more(q) is None
        f = failures(b)
        assert f[(topic, "payload_invalid", "refused")] == 3
        assert f[(topic, "payload_invalid", "stored")] == 1
        assert f[(avro_topic, "payload_invalid", "refused")] == 2
        assert f[(num_topic, "payload_invalid", "refused")] == 1
        await raw.channel.close()
        await c.close()
        return sid, uid, nid
    sid, uid, _ = run(main())
    assert b.stop() == 0

    # The configuration survives a restart; a deleted topic's goes with it.
    b2 = start_broker(data_dir=b.data_dir, extra_args=fast)
    b2.wait_healthy()

    async def after():
        client = await client_for(b2)
        reg = client.schema()
        cfg = await reg.get_topic_schema_config(topic)
        assert (cfg.schema_subject, cfg.validation_policy, cfg.enable_payload_validation, cfg.schema_id) == (
            "ev", "warn", True, sid)
        cfg = await reg.get_topic_schema_config(avro_topic)
        assert (cfg.schema_subject, cfg.validation_policy, cfg.schema_id) == ("users", "enforce", uid)
        raw = Raw(b2)
        # After the restart the producer is bound again when it is created again.
        apid = await raw.producer(avro_topic, "p", "users")
        await raw.refused(grpc.StatusCode.PERMISSION_DENIED, "not an Avro datum",
                          raw.send(apid, avro_topic, b""))
        status, _ = await asyncio.to_thread(admin, b2, "/admin/topics" + avro_topic, "DELETE")
        assert status == 200
        # A producer without a schema brings the name back, with no configuration.
        await raw.producer(avro_topic, "plain")
        cfg = await reg.get_topic_schema_config(avro_topic)
        assert (cfg.schema_subject, cfg.validation_policy, cfg.schema_id) == ("", "warn", 0)
        await raw.channel.close()
    run(after())
    assert b2.stop() == 0
