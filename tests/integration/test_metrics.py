"""Issue 12: GET /metrics of a real `frazil serve`, parsed the way Prometheus
does (prometheus_client's text parser), checked against what the test did:
N messages produced with the Danube SDK (reliable), M of them received and
acknowledged on a subscription, the table flushed.

Every check is collected before the test fails, so one run lists every
figure that is wrong.
"""
import asyncio
import json
import re

import grpc
from danube import DanubeClientBuilder, DispatchStrategy, SubType
from danube.proto import DanubeApi_pb2 as pb
from danube.proto import DanubeApi_pb2_grpc as pb_grpc
from prometheus_client.parser import text_string_to_metric_families

from conftest import REPO, http_get
from test_topic_storage import poll as wait_until


N = 150  # messages produced
M = 60   # of them, acknowledged
TOPIC = "/default/metrics"
SUB = "metrics-sub"
CONSUMER = "metrics-consumer"
EARLIEST = ("x-frazil-initial-position", "earliest")


def payload(i: int) -> bytes:
    return b"metric-%d-" % i + b"\x00\xff" * (i % 23)


def scrape(port):
    """{(sample name, frozenset of labels): value} and {family name: family}."""
    status, text = http_get(port, "/metrics", timeout=10)
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = {}
    for f in families.values():
        for s in f.samples:
            key = (s.name, frozenset(s.labels.items()))
            assert key not in samples, f"sample {key} twice"
            samples[key] = s.value
    return text, families, samples


def describe(port, topic):
    status, body = http_get(port, "/admin/topics" + topic, timeout=10)
    assert status == 200, (status, body)
    return json.loads(body)


async def produce_and_consume(b):
    client = await DanubeClientBuilder().service_url(f"http://127.0.0.1:{b.listen_port}").build()
    p = (client.new_producer().with_topic(TOPIC).with_name("metrics-producer")
         .with_dispatch_strategy(DispatchStrategy.RELIABLE).build())
    await p.create()
    # The subscription starts at the first message (the SDK cannot ask for
    # that); the SDK consumer attaches to it under the same names.
    with grpc.insecure_channel(f"127.0.0.1:{b.listen_port}") as ch:
        pb_grpc.ConsumerServiceStub(ch).Subscribe(
            pb.ConsumerRequest(request_id=1, topic_name=TOPIC, consumer_name=CONSUMER, subscription=SUB,
                               subscription_type=pb.ConsumerRequest.Exclusive), metadata=[EARLIEST], timeout=10)
    offsets = []
    for s in range(0, N, 50):
        offsets += await asyncio.gather(*[p.send(payload(i), None) for i in range(s, min(N, s + 50))])
    assert sorted(offsets) == list(range(N)), offsets
    await p.close()

    c = (client.new_consumer().with_topic(TOPIC).with_consumer_name(CONSUMER).with_subscription(SUB)
         .with_subscription_type(SubType.EXCLUSIVE).build())
    await c.subscribe()
    q = await c.receive()
    acked = 0
    while acked < M:
        m = await asyncio.wait_for(q.get(), 20)
        assert m.msg_id.topic_offset == acked, (m.msg_id.topic_offset, acked)
        await c.ack(m)
        acked += 1
    return c


def test_metrics_match_what_was_done(start_broker, tmp_path):
    config = tmp_path / "metrics.yaml"
    config.write_text("storage:\n  flush_interval_ms: 200\n")
    b = start_broker(extra_args=["--config", str(config)])
    b.wait_healthy()

    async def main():
        c = await produce_and_consume(b)
        # Acks are asynchronous: wait until the broker's cursor moved.
        await asyncio.to_thread(
            wait_until, lambda: any(s["name"] == SUB and s["cursor"] == M
                                    for s in describe(b.http_port, TOPIC)["subscriptions"]),
            20, "cursor at M")
        await asyncio.to_thread(
            wait_until, lambda: (describe(b.http_port, TOPIC)["table"] or {}).get("committed_offset") == N,
            60, "table committed")
        result = await asyncio.to_thread(scrape, b.http_port)
        await c.close()
        return result

    text, families, samples = asyncio.run(asyncio.wait_for(main(), 180))
    topic = {"topic": TOPIC}
    sub = {"topic": TOPIC, "subscription": SUB}
    payload_bytes = sum(len(payload(i)) for i in range(N))

    def value(name, labels=None):
        return samples.get((name, frozenset((labels or {}).items())))

    failures = []

    def check(key, ok, detail):
        if not ok:
            failures.append((key, detail))

    def expect(key, name, labels, want):
        got = value(name, labels)
        check(key, got is not None and want(got), f"{name}{labels or ''} = {got}")

    # Format: every family typed and documented (here and in docs/metrics.md).
    docs = (REPO / "docs" / "metrics.md").read_text()
    for name, f in families.items():
        assert name.startswith("frazil_"), name
        assert f.type in ("counter", "gauge", "histogram"), (name, f.type)
        assert f.documentation, name
        exposed = name + "_total" if f.type == "counter" else name
        assert f"`{exposed}`" in docs, f"{exposed} is not in docs/metrics.md"
    assert re.search(r"^# TYPE frazil_wal_next_offset gauge$", text, re.M)

    # WAL and committer (filled on every branch).
    expect("wal_next_offset", "frazil_wal_next_offset", topic, lambda v: v == N)
    expect("wal_appends", "frazil_wal_appends_total", topic, lambda v: v == N)
    expect("wal_segments", "frazil_wal_segments", topic, lambda v: v >= 1)
    expect("wal_size", "frazil_wal_size_bytes", topic, lambda v: v > payload_bytes)
    # sync_mode always: every group of the topic is one commit to the shared
    # journal, and a journal fdatasync covers one or more commits.
    expect("journal_commits", "frazil_wal_journal_commits_total", None,
           lambda v: v == value("frazil_wal_batches_total", topic) >= 1)
    expect("journal_syncs", "frazil_wal_journal_syncs_total", None,
           lambda v: 1 <= v <= value("frazil_wal_journal_commits_total"))
    expect("journal_failures", "frazil_wal_journal_failures_total", None, lambda v: v == 0)
    expect("journal_bytes", "frazil_wal_journal_written_bytes_total", None, lambda v: v > payload_bytes)
    expect("wal_append_errors", "frazil_wal_append_errors_total", topic, lambda v: v == 0)
    expect("storage_committed", "frazil_storage_committed_offset", topic, lambda v: v == N)
    expect("storage_commits", "frazil_storage_commits_total", topic, lambda v: v >= 1)
    expect("storage_failing", "frazil_storage_commit_failing", topic, lambda v: v == 0)
    expect("subscription_cursor", "frazil_subscription_cursor_offset", sub, lambda v: v == M)
    expect("subscription_consumers", "frazil_subscription_consumers", sub, lambda v: v == 1)
    expect("topics", "frazil_topics", None, lambda v: v == 1)
    expect("http_executor", "frazil_executor_threads", {"executor": "http"}, lambda v: v == 2)
    expect("process_threads", "frazil_process_threads", None, lambda v: v >= 3)
    expect("process_rss", "frazil_process_resident_memory_bytes", None, lambda v: v > 1e6)
    expect("process_fds", "frazil_process_open_fds", None, lambda v: v >= 3)
    # Histograms: cumulative buckets ending in +Inf == count.
    for h in ("frazil_wal_fsync_duration_seconds", "frazil_wal_journal_fsync_duration_seconds",
              "frazil_storage_commit_duration_seconds",
              "frazil_produce_latency_seconds", "frazil_ack_latency_seconds"):
        assert families[h].type == "histogram"
        buckets = [(float(s.labels["le"]), s.value) for s in families[h].samples if s.name == h + "_bucket"]
        assert buckets == sorted(buckets), h
        assert buckets[-1][0] == float("inf"), h
        assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), f"{h} buckets not cumulative"
        assert buckets[-1][1] == value(h + "_count"), h

    # The broker's counters and histograms, the WAL's and the committer's figures.
    expect("topic_messages_in", "frazil_topic_messages_in_total", topic, lambda v: v == N)
    expect("topic_bytes_in", "frazil_topic_bytes_in_total", topic, lambda v: v == payload_bytes)
    expect("topic_messages_out", "frazil_topic_messages_out_total", topic, lambda v: v >= M)
    expect("topic_bytes_out", "frazil_topic_bytes_out_total", topic,
           lambda v: v >= sum(len(payload(i)) for i in range(M)))
    expect("topic_acks", "frazil_topic_acks_total", topic, lambda v: v == M)
    expect("subscription_backlog", "frazil_subscription_backlog_messages", sub, lambda v: v == N - M)
    # Delivered (the consumer's window holds them all) and not acknowledged.
    expect("subscription_unacked", "frazil_subscription_unacked_messages", sub, lambda v: 0 < v <= N - M)
    expect("produce_latency_count", "frazil_produce_latency_seconds_count", None, lambda v: v == N)
    expect("ack_latency_count", "frazil_ack_latency_seconds_count", None, lambda v: v == M)
    expect("wal_written_bytes", "frazil_wal_written_bytes_total", topic, lambda v: v > payload_bytes)
    expect("wal_fsync_count", "frazil_wal_fsync_duration_seconds_count", None, lambda v: v >= 1)
    expect("storage_snapshots", "frazil_storage_snapshots", topic, lambda v: v >= 1)
    expect("storage_data_files", "frazil_storage_data_files", topic, lambda v: v >= 1)
    expect("storage_commit_latency_count", "frazil_storage_commit_duration_seconds_count", None,
           lambda v: v >= value("frazil_storage_commits_total", topic) >= 1)

    assert not failures, "\n".join(f"{k}: {d}" for k, d in failures)
    assert b.stop() == 0
