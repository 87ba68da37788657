"""Subscription failure policies and dispatch configuration (issue 16):
set through Danube's admin stubs (tests/danube-admin), exercised with
Danube's Rust client (tests/danube-rust: danube-client 0.15), against
`frazil serve`. Ack-timeout and nack redelivery, and each poison policy
(block, drop, dead-letter) on Exclusive, Shared and KeyShared subscriptions;
the dead-letter topic's Iceberg table read with PyIceberg; the policy and the
dispatch window surviving a restart; bad input refused by name."""
import json
import re
import time

import pytest
from pyiceberg.catalog.sql import SqlCatalog

from conftest import http_get, run_frazil
from test_danube_admin import admin_binary, fails, ok

FAST = "client_timeout_ms: 8000\nwal:\n  sync_mode: none\nstorage:\n  flush_interval_ms: 200\n"


@pytest.fixture(scope="module")
def admin_bin():
    return admin_binary()


@pytest.fixture
def broker(start_broker, tmp_path):
    cfg = tmp_path / "fast.yaml"
    cfg.write_text(FAST)
    b = start_broker(extra_args=["--config", str(cfg)])
    b.wait_healthy()
    return b


def reliable_topic(admin_bin, b, topic):
    """Created reliable before a consumer subscribes (a consumer would create it non-reliable)."""
    assert ok(admin_bin, b, "topics", "create", topic, "--reliable") == {"success": True}


def set_policy(admin_bin, b, topic, sub, max_redeliveries, *opts):
    assert ok(admin_bin, b, "topics", "set-failure-policy", topic, sub, max_redeliveries, *opts) == {"success": True}


class Consumer:
    """frazil-danube-rs consume, running until `count` messages or `timeout`."""

    def __init__(self, rs, b, topic, sub, sub_type, *opts, count=100, timeout=6, name="c"):
        self.p = rs.start(b, "consume", "--topic", topic, "--subscription", sub, "--type", sub_type, "--name", name,
                          "--count", count, "--timeout", timeout, *opts)
        first = json.loads(self.p.stdout.readline() or "null")
        assert first and first.get("event") == "subscribed", (first, self.p.stderr.read())

    def messages(self):
        out, err = self.p.communicate(timeout=120)
        lines = [json.loads(x) for x in out.splitlines() if x.strip()]
        import base64
        msgs = [m for m in lines if m.get("event") == "message"]
        for m in msgs:
            m["payload"] = base64.b64decode(m["payload_b64"]).decode()
        return msgs


def produce(rs, b, topic, *payloads, key=None, name="p"):
    args = ["--topic", topic, "--reliable", "--name", name]
    if key is not None:
        args += ["--key", key]
    for p in payloads:
        args += ["--payload", p]
    rc, lines = rs.run(b, "produce", *args)
    assert rc == 0 and lines[-1]["acked"] == len(payloads), lines


def metric(b, name, topic):
    status, body = http_get(b.http_port, "/metrics")
    assert status == 200
    m = re.search(rf'^{name}\{{topic="{re.escape(topic)}"\}} (\d+)$', body, re.M)
    return int(m.group(1)) if m else 0


def cursor(b, topic, sub):
    status, body = http_get(b.http_port, "/admin/topics" + topic)
    assert status == 200, body
    return {s["name"]: s for s in json.loads(body)["subscriptions"]}[sub]["cursor"]


def test_without_a_policy_a_nacked_message_comes_back_again_and_again(danube_rs, admin_bin, broker):
    topic = "/default/fp-nack"
    reliable_topic(admin_bin, broker, topic)
    c = Consumer(danube_rs, broker, topic, "s", "exclusive", "--nack", "again", "--nack-reason", "not yet", count=6)
    assert ok(admin_bin, broker, "topics", "get-failure-policy", topic, "s") == {"failure_policy": None,
                                                                                 "subscription_type": 0}
    produce(danube_rs, broker, topic, "again")
    msgs = c.messages()
    assert [m["payload"] for m in msgs] == ["again"] * 6
    assert {m["offset"] for m in msgs} == {0}  # the same message each time
    assert metric(broker, "frazil_topic_redeliveries_total", topic) >= 5


def test_ack_timeout_redelivers_then_the_policy_drops(danube_rs, admin_bin, broker):
    topic = "/default/fp-timeout"
    reliable_topic(admin_bin, broker, topic)
    c = Consumer(danube_rs, broker, topic, "s", "shared", "--ignore", "slow", timeout=8)
    set_policy(admin_bin, broker, topic, "s", 2, "--ack-timeout", 500, "--base-delay", 0, "--max-delay", 0,
               "--poison", "drop")
    produce(danube_rs, broker, topic, "slow", "next")
    t0 = time.monotonic()
    msgs = c.messages()
    payloads = [m["payload"] for m in msgs]
    # Three deliveries of "slow" (the first and two redeliveries, each after
    # 500 ms unacknowledged), then it is dropped; "next" flows meanwhile.
    assert payloads.count("slow") == 3 and payloads.count("next") == 1, payloads
    assert {m["offset"] for m in msgs if m["payload"] == "slow"} == {0}
    assert time.monotonic() - t0 >= 1.0
    assert metric(broker, "frazil_topic_ack_timeouts_total", topic) == 3
    assert metric(broker, "frazil_topic_poison_dropped_total", topic) == 1
    assert cursor(broker, topic, "s") == 2


POISON_KINDS = ["block", "drop", "dead_letter"]
SUB_TYPES = ["exclusive", "shared", "key_shared"]


@pytest.mark.parametrize("sub_type", SUB_TYPES)
@pytest.mark.parametrize("poison", POISON_KINDS)
def test_poison_policies(danube_rs, admin_bin, broker, poison, sub_type):
    topic = f"/default/fp-{poison.replace('_', '')}-{sub_type.replace('_', '')}"
    reliable_topic(admin_bin, broker, topic)
    dlq = topic + "-dlq"
    c = Consumer(danube_rs, broker, topic, "s", sub_type, "--nack", "poison", "--nack-reason", "cannot parse",
                 timeout=10)
    opts = ["--ack-timeout", 30000, "--base-delay", 50, "--max-delay", 200, "--backoff", "exponential",
            "--poison", poison]
    if poison == "dead_letter":
        opts += ["--dead-letter", dlq]
    set_policy(admin_bin, broker, topic, "s", 2, *opts)
    got = ok(admin_bin, broker, "topics", "get-failure-policy", topic, "s")
    assert got["failure_policy"]["max_redelivery_count"] == 2
    assert got["failure_policy"]["poison_policy"] == {"dead_letter": 0, "block": 1, "drop": 2}[poison]
    assert got["failure_policy"]["dead_letter_topic"] == (dlq if poison == "dead_letter" else None)
    assert got["subscription_type"] == {"exclusive": 0, "shared": 1, "key_shared": 3}[sub_type]
    if poison == "block" and sub_type != "key_shared":
        # One message out at a time, so what follows the poison message is
        # not already on its way when it is blocked.
        assert ok(admin_bin, broker, "topics", "set-dispatch-config", topic, "s", 1) == {"success": True}
    # Key "a" holds the poison message and one after it; key "b" two others,
    # sent once the poison message's redeliveries are used up.
    produce(danube_rs, broker, topic, "a0", key="a")
    produce(danube_rs, broker, topic, "poison", key="a")
    counter = {"block": "frazil_topic_poison_blocked_total", "drop": "frazil_topic_poison_dropped_total",
               "dead_letter": "frazil_topic_dead_lettered_total"}[poison]
    deadline = time.monotonic() + 10
    while metric(broker, counter, topic) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert metric(broker, counter, topic) == 1
    produce(danube_rs, broker, topic, "b0", "b1", key="b")
    produce(danube_rs, broker, topic, "a1", key="a")
    msgs = c.messages()
    payloads = [m["payload"] for m in msgs]
    assert payloads.count("poison") == 3, payloads  # the first delivery and two redeliveries
    assert {m["offset"] for m in msgs if m["payload"] == "poison"} == {1}
    assert payloads.count("a0") == 1
    if poison == "block":
        assert cursor(broker, topic, "s") == 1  # held at the blocked message
        assert "a1" not in payloads, payloads  # its key (or the whole subscription) waits
        if sub_type == "key_shared":
            assert payloads.count("b0") == 1 and payloads.count("b1") == 1, payloads  # other keys flow
        else:
            assert payloads == ["a0", "poison", "poison", "poison"], payloads  # nothing after it
        return
    # Drop and dead-letter: it is resolved, the rest flows and the cursor moves on.
    for p in ("b0", "b1", "a1"):
        assert payloads.count(p) == 1, payloads
    deadline = time.monotonic() + 10
    while cursor(broker, topic, "s") != 5 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert cursor(broker, topic, "s") == 5
    if poison == "drop":
        assert metric(broker, "frazil_topic_poison_dropped_total", topic) == 1
        return
    assert metric(broker, "frazil_topic_dead_lettered_total", topic) == 1
    # The dead-letter topic is a topic: its table holds the message, its origin and why.
    warehouse = json.loads(http_get(broker.http_port, "/healthz")[1])["catalog"]["warehouse"]
    catalog = SqlCatalog("frazil", uri=f"sqlite:///{broker.data_dir / 'catalog.db'}", warehouse=warehouse)
    rows = []
    deadline = time.monotonic() + 20
    while not rows and time.monotonic() < deadline:
        try:
            rows = catalog.load_table("default." + dlq.split("/")[-1]).scan().to_arrow().to_pylist()
        except Exception:  # not committed yet
            rows = []
        if not rows:
            time.sleep(0.2)
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["payload"] == b"poison" and row["routing_key"] == "a"
    attrs = dict(row["attributes"])
    assert attrs["x-original-topic"] == topic
    assert attrs["x-original-topic-offset"] == "1"
    assert attrs["x-original-subscription"] == "s"
    assert attrs["x-failure-reason"] == "nack: cannot parse"
    assert attrs["x-delivery-attempt"] == "3"
    assert attrs["x-poison-policy"] == "dead_letter"


def test_dispatch_config_bounds_what_is_unacknowledged(danube_rs, admin_bin, broker):
    topic = "/default/fp-window"
    reliable_topic(admin_bin, broker, topic)
    ignore = [x for i in range(6) for x in ("--ignore", f"m{i}")]
    c = Consumer(danube_rs, broker, topic, "s", "shared", *ignore, timeout=4)
    assert ok(admin_bin, broker, "topics", "get-dispatch-config", topic, "s") == {"max_unacked_messages": None}
    assert ok(admin_bin, broker, "topics", "set-dispatch-config", topic, "s", 2) == {"success": True}
    assert ok(admin_bin, broker, "topics", "get-dispatch-config", topic, "s") == {"max_unacked_messages": 2}
    produce(danube_rs, broker, topic, *[f"m{i}" for i in range(6)])
    msgs = c.messages()
    assert [m["payload"] for m in msgs] == ["m0", "m1"]  # none acknowledged: two out, no more


def test_policy_and_dispatch_config_survive_a_restart(danube_rs, admin_bin, broker, start_broker):
    topic = "/default/fp-restart"
    reliable_topic(admin_bin, broker, topic)
    Consumer(danube_rs, broker, topic, "s", "exclusive", timeout=1).messages()
    set_policy(admin_bin, broker, topic, "s", 4, "--ack-timeout", 1234, "--base-delay", 10, "--max-delay", 900,
               "--backoff", "exponential", "--poison", "dead_letter", "--dead-letter", "/default/fp-restart-dlq")
    assert ok(admin_bin, broker, "topics", "set-dispatch-config", topic, "s", 7) == {"success": True}
    before = ok(admin_bin, broker, "topics", "get-failure-policy", topic, "s")
    assert before["failure_policy"] == {"max_redelivery_count": 4, "ack_timeout_ms": 1234,
                                        "base_redelivery_delay_ms": 10, "max_redelivery_delay_ms": 900,
                                        "backoff_strategy": 1, "dead_letter_topic": "/default/fp-restart-dlq",
                                        "poison_policy": 0}
    # The dead-letter topic exists as soon as the policy names it.
    assert "/default/fp-restart-dlq" in ok(admin_bin, broker, "namespaces", "topics", "default")["topics"]
    assert broker.stop() == 0
    b = start_broker(data_dir=broker.data_dir, extra_args=["--config", str(broker.data_dir.parent / "fast.yaml")])
    b.wait_healthy()
    assert ok(admin_bin, b, "topics", "get-failure-policy", topic, "s") == before
    assert ok(admin_bin, b, "topics", "get-dispatch-config", topic, "s") == {"max_unacked_messages": 7}
    # The HTTP admin API answers the same.
    status, body = http_get(b.http_port, "/admin/topics/default/fp-restart/subscriptions/s/failure_policy")
    assert status == 200 and json.loads(body)["failure_policy"]["poison_policy"] == "dead_letter"
    status, body = http_get(b.http_port, "/admin/topics/default/fp-restart/subscriptions/s/dispatch_config")
    assert status == 200 and json.loads(body)["max_unacked_messages"] == 7
    # So does `frazil topics`, which sets them through that API.
    http = ["--http", f"127.0.0.1:{b.http_port}"]
    rc, out = run_frazil("topics", "failure-policy", topic, "s", *http)
    assert rc == 0 and json.loads(out)["failure_policy"]["ack_timeout_ms"] == 1234, out
    rc, out = run_frazil("topics", "failure-policy", topic, "s", "--set", "max_redelivery_count=1", "--set",
                         "poison_policy=dead_letter", "--set", "dead_letter_topic=/default/fp-cli-dlq", *http)
    assert rc == 0, out
    got = ok(admin_bin, b, "topics", "get-failure-policy", topic, "s")["failure_policy"]
    assert got["max_redelivery_count"] == 1 and got["poison_policy"] == 0 and got["ack_timeout_ms"] == 30000
    assert got["dead_letter_topic"] == "/default/fp-cli-dlq"
    assert "/default/fp-cli-dlq" in ok(admin_bin, b, "namespaces", "topics", "default")["topics"]
    rc, out = run_frazil("topics", "failure-policy", topic, "s", "--set", "ack_timeout_ms=0", *http)
    assert rc == 1 and "ack_timeout_ms" in out, out
    rc, out = run_frazil("topics", "dispatch-config", topic, "s", "--max-unacked", "3", *http)
    assert rc == 0 and json.loads(out)["max_unacked_messages"] == 3, out
    assert ok(admin_bin, b, "topics", "get-dispatch-config", topic, "s") == {"max_unacked_messages": 3}
    # Unsubscribing forgets them: a new subscription of the name has none.
    assert ok(admin_bin, b, "topics", "unsubscribe", topic, "s") == {"success": True}
    Consumer(danube_rs, b, topic, "s", "exclusive", timeout=1).messages()
    assert ok(admin_bin, b, "topics", "get-failure-policy", topic, "s")["failure_policy"] is None


def test_bad_input_is_refused_by_name(danube_rs, admin_bin, broker):
    topic = "/default/fp-bad"
    reliable_topic(admin_bin, broker, topic)
    Consumer(danube_rs, broker, topic, "s", "exclusive", timeout=1).messages()
    base = ["--base-delay", 0, "--max-delay", 0]
    assert "does not exist" in fails(admin_bin, broker, "NOT_FOUND", "topics", "set-failure-policy",
                                     "/default/none", "s", 1, *base)
    assert "does not exist" in fails(admin_bin, broker, "NOT_FOUND", "topics", "set-failure-policy", topic, "none",
                                     1, *base)
    assert "does not exist" in fails(admin_bin, broker, "NOT_FOUND", "topics", "get-failure-policy", topic, "none")
    assert "does not exist" in fails(admin_bin, broker, "NOT_FOUND", "topics", "get-dispatch-config",
                                     "/default/none", "s")
    assert "invalid topic name" in fails(admin_bin, broker, "INVALID_ARGUMENT", "topics", "get-failure-policy",
                                         "no-slash", "s")
    for opts, says in (
        (["--ack-timeout", 0, *base], "ack_timeout_ms must be 1 to"),
        (["--base-delay", 500, "--max-delay", 100], "below base_redelivery_delay_ms"),
        (["--backoff", 9, *base], "unknown backoff_strategy 9"),
        (["--poison", 7, *base], "unknown poison_policy 7"),
        (["--poison", "dead_letter", *base], "needs a dead_letter_topic"),
        (["--poison", "dead_letter", "--dead-letter", topic, *base], "own topic"),
        (["--poison", "dead_letter", "--dead-letter", "bad name", *base], "dead_letter_topic"),
    ):
        assert says in fails(admin_bin, broker, "INVALID_ARGUMENT", "topics", "set-failure-policy", topic, "s", 1,
                             *opts), opts
    for n in (0, 10001):
        assert "max_unacked_messages must be 1 to 10000" in fails(admin_bin, broker, "INVALID_ARGUMENT", "topics",
                                                                  "set-dispatch-config", topic, "s", n)
    # Nothing was set.
    assert ok(admin_bin, broker, "topics", "get-failure-policy", topic, "s")["failure_policy"] is None
    assert ok(admin_bin, broker, "topics", "get-dispatch-config", topic, "s") == {"max_unacked_messages": None}
    # A non-reliable topic has no redelivery to govern.
    rc, lines = danube_rs.run(broker, "produce", "--topic", "/default/fp-fast", "--payload", "x")
    assert rc == 0
    Consumer(danube_rs, broker, "/default/fp-fast", "s", "exclusive", timeout=1).messages()
    assert "reliable topics only" in fails(admin_bin, broker, "FAILED_PRECONDITION", "topics", "set-failure-policy",
                                           "/default/fp-fast", "s", 1, *base)
    # The HTTP API refuses the same way.
    import urllib.request
    req = urllib.request.Request(
        f"http://127.0.0.1:{broker.http_port}/admin/topics/default/fp-bad/subscriptions/s/failure_policy"
        "?ack_timeout_ms=0", method="PUT")
    try:
        urllib.request.urlopen(req, timeout=5)
        assert False, "accepted"
    except urllib.error.HTTPError as e:
        assert e.code == 400 and "ack_timeout_ms" in e.read().decode()
    # The broker keeps serving.
    assert ok(admin_bin, broker, "topics", "describe", topic)["name"] == topic
