"""`frazil serve` as a Danube broker, driven by the official Danube Python SDK
(PyPI danube-client) and, for what the SDK cannot send, by raw gRPC calls
with the SDK's own generated protobuf stubs."""
import asyncio
import signal
import socket
import time

import grpc
import pytest
from danube import DanubeClientBuilder, DispatchStrategy, SubType
from danube.proto import DanubeApi_pb2 as pb
from danube.proto import DanubeApi_pb2_grpc as pb_grpc

# Faster runs: no fsync per message, and consumers that dropped their stream
# without cancelling it are noticed after 8 s without a heartbeat (the SDK
# sends one every 5 s).
FAST_WAL = "client_timeout_ms: 8000\nwal:\n  sync_mode: none\n"


def run(coro, timeout=120):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def url(b):
    return f"http://127.0.0.1:{b.listen_port}"


@pytest.fixture
def broker(start_broker, tmp_path):
    cfg = tmp_path / "fast.yaml"
    cfg.write_text(FAST_WAL)
    b = start_broker(extra_args=["--config", str(cfg)])
    b.wait_healthy()
    return b


async def client_for(b):
    return await DanubeClientBuilder().service_url(url(b)).build()


async def producer(client, topic, name="p", reliable=True, partitions=0):
    builder = client.new_producer().with_topic(topic).with_name(name)
    if reliable:
        builder = builder.with_dispatch_strategy(DispatchStrategy.RELIABLE)
    if partitions:
        builder = builder.with_partitions(partitions)
    p = builder.build()
    await p.create()
    return p


async def consumer(client, topic, sub, name, sub_type=SubType.EXCLUSIVE, key_filters=None):
    builder = (client.new_consumer().with_topic(topic).with_consumer_name(name).with_subscription(sub)
               .with_subscription_type(sub_type))
    if key_filters:
        builder = builder.with_key_filters(key_filters)
    c = builder.build()
    await c.subscribe()
    return c, await c.receive()


async def drain(q, n, timeout=10):
    out = []
    for _ in range(n):
        out.append(await asyncio.wait_for(q.get(), timeout))
    return out


async def nothing_more(q, wait=0.5):
    try:
        m = await asyncio.wait_for(q.get(), wait)
        return m
    except asyncio.TimeoutError:
        return None


def test_produce_consume_exclusive_reliable(broker):
    async def main():
        client = await client_for(broker)
        p = await producer(client, "/default/basic")
        c, q = await consumer(client, "/default/basic", "s1", "c1")
        for i in range(20):
            if i % 2:
                mid = await p.send_with_key(f"m{i}".encode(), {"i": str(i)}, f"key-{i % 3}")
            else:
                mid = await p.send(f"m{i}".encode(), {"i": str(i)})
            assert mid == i  # the message id a send returns is the topic offset
        got = await drain(q, 20)
        for i, m in enumerate(got):
            assert m.payload == f"m{i}".encode()
            assert m.msg_id.topic_offset == i
            assert m.msg_id.topic_name == "/default/basic"
            assert dict(m.attributes) == {"i": str(i)}
            assert m.producer_name == "p"
            assert m.publish_time > 1_700_000_000_000
            assert (m.routing_key == f"key-{i % 3}") if i % 2 else not m.HasField("routing_key")
            await c.ack(m)
        assert await nothing_more(q) is None
        await p.close()
        await c.close()
    run(main())


def test_nack_redelivers_after_delay(broker):
    async def main():
        client = await client_for(broker)
        p = await producer(client, "/default/nack")
        c, q = await consumer(client, "/default/nack", "s", "c")
        await p.send(b"retry-me", None)
        first = await drain(q, 1)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await c.nack(first[0], delay_ms=400, reason="not now")
        again = await drain(q, 1)
        assert loop.time() - t0 >= 0.35
        assert again[0].payload == b"retry-me" and again[0].msg_id.topic_offset == first[0].msg_id.topic_offset
        await c.ack(again[0])
        assert await nothing_more(q) is None
        await c.close()
    run(main())


def test_shared_subscription_with_consumer_churn_acks_every_message_once(broker):
    total = 10_000

    async def main():
        client = await client_for(broker)
        p = await producer(client, "/default/churn")
        seen = {}
        stop = asyncio.Event()

        async def work(name, lifetime, subscribed=None):
            c, q = await consumer(client, "/default/churn", "shared", name, SubType.SHARED)
            if subscribed:
                subscribed.set()
            deadline = asyncio.get_running_loop().time() + lifetime
            while not stop.is_set() and asyncio.get_running_loop().time() < deadline:
                try:
                    m = await asyncio.wait_for(q.get(), 0.2)
                except asyncio.TimeoutError:
                    continue
                seen.setdefault(m.msg_id.topic_offset, []).append(name)
                await c.ack(m)
            await c.close()

        ready = asyncio.Event()
        steady = asyncio.create_task(work("steady", 3600, ready))
        await ready.wait()  # the subscription exists before the first message
        churners = []

        async def churn():
            for i in range(6):  # consumers come and go while messages flow
                churners.append(asyncio.create_task(work(f"churn-{i}", 0.4)))
                await asyncio.sleep(0.3)

        churn_task = asyncio.create_task(churn())
        sends = [p.send(f"{i}".encode(), None) for i in range(total)]
        for i in range(0, total, 500):
            await asyncio.gather(*sends[i:i + 500])
        await churn_task
        await asyncio.gather(*churners)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while len(seen) < total and loop.time() < deadline:
            await asyncio.sleep(0.2)
        stop.set()
        await steady
        return seen

    seen = run(main(), timeout=300)
    assert sorted(seen) == list(range(total)), f"missing {total - len(seen)} messages"
    # A churning consumer may leave before acking what it was sent; those go
    # to others. Acked twice only if acked by a consumer that had already left.
    by_more = {o: who for o, who in seen.items() if len(who) > 1}
    assert len(by_more) < total // 100, f"{len(by_more)} messages delivered and acked more than once"
    assert len({w for who in seen.values() for w in who}) > 2  # the churning consumers did take messages


def test_failover_standby_takes_over(broker):
    async def main():
        client = await client_for(broker)
        p = await producer(client, "/default/fo")
        c1, q1 = await consumer(client, "/default/fo", "fo", "first", SubType.FAILOVER)
        await asyncio.sleep(0.2)
        c2, q2 = await consumer(client, "/default/fo", "fo", "second", SubType.FAILOVER)
        for i in range(5):
            await p.send(f"a{i}".encode(), None)
        for m in await drain(q1, 5):
            await c1.ack(m)
        assert await nothing_more(q2) is None  # the standby gets nothing
        await c1.close()  # the active consumer leaves
        await asyncio.sleep(0.3)
        for i in range(5):
            await p.send(f"b{i}".encode(), None)
        got = await drain(q2, 5)
        assert [m.payload for m in got] == [f"b{i}".encode() for i in range(5)]
        for m in got:
            await c2.ack(m)
        await c2.close()
    run(main())


def test_key_shared_keeps_per_key_order(broker):
    async def main():
        client = await client_for(broker)
        p = await producer(client, "/default/ks")
        consumers = [await consumer(client, "/default/ks", "ks", f"k{i}", SubType.KEY_SHARED) for i in range(3)]
        await asyncio.sleep(0.3)
        keys = [f"order-{k}" for k in range(12)]
        for n in range(10):
            for k in keys:
                await p.send_with_key(f"{k}:{n}".encode(), None, k)
        owner = {}
        received = {k: [] for k in keys}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while sum(map(len, received.values())) < 120 and loop.time() < deadline:
            for idx, (c, q) in enumerate(consumers):
                while not q.empty():
                    m = q.get_nowait()
                    k, n = m.payload.decode().split(":")
                    assert owner.setdefault(k, idx) == idx, f"key {k} went to two consumers"
                    received[k].append(int(n))
                    await c.ack(m)
            await asyncio.sleep(0.05)
        for k in keys:
            assert received[k] == list(range(10)), k
        assert len(set(owner.values())) > 1  # keys were spread
        for c, _ in consumers:
            await c.close()
    run(main())


def test_partitioned_topic(broker):
    async def main():
        client = await client_for(broker)
        p = await producer(client, "/default/parts", partitions=3)
        c, q = await consumer(client, "/default/parts", "s", "c", SubType.SHARED)
        for i in range(30):
            await p.send(f"{i}".encode(), None)
        got = await drain(q, 30)
        assert sorted(int(m.payload) for m in got) == list(range(30))
        assert {m.msg_id.topic_name for m in got} == {f"/default/parts-part-{i}" for i in range(3)}
        for m in got:
            await c.ack(m)
        await c.close()
    run(main())
    ch = grpc.insecure_channel(f"127.0.0.1:{broker.listen_port}")
    parts = pb_grpc.DiscoveryStub(ch).TopicPartitions(pb.TopicLookupRequest(request_id=1, topic="/default/parts"))
    assert sorted(parts.partitions) == [f"/default/parts-part-{i}" for i in range(3)]


def test_restart_resumes_reliable_subscription_at_last_ack(start_broker, tmp_path):
    data = tmp_path / "data"
    total, acked = 10_000, 5_000
    b = start_broker(data_dir=data)
    b.wait_healthy()

    async def first():
        client = await client_for(b)
        p = await producer(client, "/default/resume")
        c, q = await consumer(client, "/default/resume", "durable", "c")
        sends = [p.send(f"{i}".encode(), None) for i in range(total)]
        for i in range(0, total, 1000):
            await asyncio.gather(*sends[i:i + 1000])
        for i in range(acked):  # ack as they come: at most 1000 are in flight per consumer
            m = await asyncio.wait_for(q.get(), 10)
            assert m.msg_id.topic_offset == i
            await c.ack(m)
        await asyncio.sleep(0.3)  # the acks are in; the next messages are in flight, unacked
    run(first(), timeout=300)
    assert b.stop(signal.SIGTERM) == 0
    assert "WAL synced and closed" in b.log()

    b2 = start_broker(data_dir=data)
    b2.wait_healthy()
    assert "subscription durable on /default/resume (exclusive) resumes at offset 5000" in b2.log()

    async def second():
        client = await client_for(b2)
        c, q = await consumer(client, "/default/resume", "durable", "c")
        got = []
        for _ in range(total - acked):
            got.append(await asyncio.wait_for(q.get(), 10))
            await c.ack(got[-1])
        return [m.msg_id.topic_offset for m in got], await nothing_more(q)
    offsets, extra = run(second(), timeout=300)
    assert offsets == list(range(acked, total)) and extra is None
    # and the producer reconnects to the restarted broker with the same name
    async def third():
        client = await client_for(b2)
        p = await producer(client, "/default/resume")
        await p.send(b"after restart", None)
    run(third())
    assert b2.stop() == 0


def test_bad_input_gets_clear_errors_and_broker_keeps_serving(broker):
    ch = grpc.insecure_channel(f"127.0.0.1:{broker.listen_port}")
    producers = pb_grpc.ProducerServiceStub(ch)
    consumers = pb_grpc.ConsumerServiceStub(ch)
    for bad in ["nope", "/onlyns", "/a/b/c", "/a/b c", "", "/a/"]:
        with pytest.raises(grpc.RpcError) as e:
            producers.CreateProducer(pb.ProducerRequest(request_id=1, producer_name="p", topic_name=bad))
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "invalid topic name" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        producers.CreateProducer(pb.ProducerRequest(request_id=1, producer_name="", topic_name="/default/x"))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    created = producers.CreateProducer(pb.ProducerRequest(request_id=1, producer_name="big", topic_name="/default/x"))
    with pytest.raises(grpc.RpcError) as e:
        producers.SendMessage(pb.StreamMessage(request_id=2, msg_id=pb.MsgID(producer_id=created.producer_id),
                                               payload=b"x" * (5 * 1024 * 1024 + 1)))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "over the limit" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        producers.SendMessage(pb.StreamMessage(request_id=3, msg_id=pb.MsgID(producer_id=987654), payload=b"x"))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND and "unknown producer" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        producers.SendMessage(pb.StreamMessage(request_id=3, payload=b"x"))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as e:
        list(consumers.ReceiveMessages(pb.ReceiveRequest(request_id=1, consumer_id=424242)))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND and "unknown consumer" in e.value.details()
    # exclusive producer access, and subscription type mismatch
    producers.CreateProducer(pb.ProducerRequest(request_id=1, producer_name="owner", topic_name="/default/excl",
                                                producer_access_mode=pb.Exclusive))
    with pytest.raises(grpc.RpcError) as e:
        producers.CreateProducer(pb.ProducerRequest(request_id=1, producer_name="intruder", topic_name="/default/excl"))
    assert e.value.code() == grpc.StatusCode.ALREADY_EXISTS and "exclusive producer" in e.value.details()
    consumers.Subscribe(pb.ConsumerRequest(request_id=1, topic_name="/default/x", consumer_name="a", subscription="s",
                                           subscription_type=pb.ConsumerRequest.Shared))
    with pytest.raises(grpc.RpcError) as e:
        consumers.Subscribe(pb.ConsumerRequest(request_id=1, topic_name="/default/x", consumer_name="b",
                                               subscription="s", subscription_type=pb.ConsumerRequest.Exclusive))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "is shared, not exclusive" in e.value.details()
    holder = consumers.Subscribe(pb.ConsumerRequest(request_id=1, topic_name="/default/x", consumer_name="a",
                                                    subscription="e", subscription_type=pb.ConsumerRequest.Exclusive))
    stream = consumers.ReceiveMessages(pb.ReceiveRequest(request_id=2, consumer_id=holder.consumer_id))
    time.sleep(0.3)  # the holder's stream is open
    with pytest.raises(grpc.RpcError) as e:
        consumers.Subscribe(pb.ConsumerRequest(request_id=1, topic_name="/default/x", consumer_name="b",
                                               subscription="e", subscription_type=pb.ConsumerRequest.Exclusive))
    assert e.value.code() == grpc.StatusCode.ALREADY_EXISTS and "is exclusive" in e.value.details()
    stream.cancel()
    # garbage bytes on the port
    with socket.create_connection(("127.0.0.1", broker.listen_port)) as s:
        s.sendall(b"\x00\x01garbage that is not HTTP/2\r\n\r\n" * 50)
        s.settimeout(2)
        try:
            s.recv(100)
        except OSError:
            pass
    # still serving everyone
    async def main():
        client = await client_for(broker)
        p = await producer(client, "/default/after")
        c, q = await consumer(client, "/default/after", "s", "c")
        await p.send(b"ok", None)
        assert (await drain(q, 1))[0].payload == b"ok"
    run(main())
    assert broker.proc.poll() is None


def test_unknown_topic_is_not_found_without_auto_create(start_broker, tmp_path):
    cfg = tmp_path / "strict.yaml"
    cfg.write_text("auto_create_topics: false\n")
    b = start_broker(extra_args=["--config", str(cfg)])
    b.wait_healthy()
    ch = grpc.insecure_channel(f"127.0.0.1:{b.listen_port}")
    with pytest.raises(grpc.RpcError) as e:
        pb_grpc.ProducerServiceStub(ch).CreateProducer(
            pb.ProducerRequest(request_id=1, producer_name="p", topic_name="/default/missing"))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND and "does not exist" in e.value.details()


def test_cli_produce_and_consume(broker):
    from conftest import run_frazil
    addr = url(broker)
    rc, out = run_frazil("produce", "-s", addr, "-t", "/default/cli", "-m", "hello", "-c", "3", "-i", "0",
                         "-a", "k1:v1,k2:v2", "-k", "rk", "--reliable")
    assert rc == 0, out
    assert out.splitlines() == [f"sent to /default/cli at offset {i}" for i in range(3)]
    rc, out = run_frazil("consume", "-s", addr, "-t", "/default/cli", "-m", "cli-sub", "--from", "earliest",
                         "-c", "3", "--sub-type", "exclusive")
    assert rc == 0, out
    assert out.splitlines() == [f"offset={i} payload=hello attributes=k1:v1,k2:v2 key=rk" for i in range(3)]
    # the subscription's cursor moved: a second run from the same subscription sees only new messages
    rc, out = run_frazil("produce", "-s", addr, "-t", "/default/cli", "-m", "later", "-i", "0", "--reliable")
    assert rc == 0, out
    rc, out = run_frazil("consume", "-s", addr, "-t", "/default/cli", "-m", "cli-sub", "-c", "1",
                         "--sub-type", "exclusive")
    assert rc == 0 and out.splitlines() == ["offset=3 payload=later attributes="], out
    # partitions, and a bad topic
    rc, out = run_frazil("produce", "-s", addr, "-t", "/default/cli-parts", "-m", "x", "-c", "4", "-i", "0",
                         "--partitions", "2")
    assert rc == 0 and {l.split(" at ")[0] for l in out.splitlines()} == {
        "sent to /default/cli-parts-part-0", "sent to /default/cli-parts-part-1"}, out
    rc, out = run_frazil("produce", "-s", addr, "-t", "nope", "-m", "x")
    assert rc == 2 and "invalid topic name" in out
    rc, out = run_frazil("consume", "-s", addr, "-t", "/default/cli", "-m", "s", "--sub-type", "bogus")
    assert rc == 2 and "--sub-type" in out


def test_non_reliable_dispatch_is_best_effort(broker):
    async def main():
        client = await client_for(broker)
        p = await producer(client, "/default/live", reliable=False)
        await p.send(b"before anyone listens", None)
        c, q = await consumer(client, "/default/live", "s", "c", SubType.SHARED)
        for i in range(5):
            await p.send(f"live {i}".encode(), None)
        got = await drain(q, 5)
        assert [m.payload for m in got] == [f"live {i}".encode() for i in range(5)]  # not the earlier one
        await c.nack(got[0], delay_ms=0)  # no redelivery without reliable dispatch
        assert await nothing_more(q) is None
        await c.close()
    run(main())


def test_same_producer_reconnects_after_broker_restart(start_broker, tmp_path):
    data = tmp_path / "data"
    b = start_broker(data_dir=data)
    b.wait_healthy()
    port = b.listen_port

    async def main():
        client = await DanubeClientBuilder().service_url(f"http://127.0.0.1:{port}").build()
        p = await producer(client, "/default/reconnect")
        assert await p.send(b"one", None) == 0
        assert b.stop(signal.SIGTERM) == 0
        restarted = start_broker(data_dir=data, listen_port=port)
        restarted.wait_healthy()
        # the same producer object: its send fails over to a lookup and a new CreateProducer
        assert await p.send(b"two", None) == 1
        c, q = await consumer(client, "/default/reconnect", "after", "c")
        assert await p.send(b"three", None) == 2
        assert (await drain(q, 1))[0].payload == b"three"
        await c.close()
    run(main(), timeout=120)
