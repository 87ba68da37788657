"""Danube's admin services on `frazil serve --admin`, called through the admin
gRPC stubs Danube publishes in danube-core 0.15.1 (tests/danube-admin, built by
scripts/setup-danube-admin.sh; FRAZIL_DANUBE_ADMIN_BIN names the binary).
Topics are created by producers and subscriptions by consumers of the Danube
Python SDK, and each answer is checked against what the test did. The same
operations through the HTTP admin API and `frazil topics|namespaces` see the
same state (one implementation behind all three)."""
import asyncio
import json
import os
import pathlib
import subprocess

import grpc
import pytest
from danube import DanubeClientBuilder, DispatchStrategy, SubType
from danube.schema import SchemaType

from conftest import FRAZIL_BIN, http_get

REPO = pathlib.Path(__file__).resolve().parents[2]
FAST = "client_timeout_ms: 8000\nwal:\n  sync_mode: none\n"


def admin_binary() -> str:
    env = os.environ.get("FRAZIL_DANUBE_ADMIN_BIN")
    if env and os.access(env, os.X_OK):
        return env
    # Quick once built: nothing to do while the binary is newer than its sources.
    p = subprocess.run([str(REPO / "scripts" / "setup-danube-admin.sh")], capture_output=True, text=True,
                       timeout=1800)
    if p.returncode != 0:
        pytest.skip(f"no Danube admin client: scripts/setup-danube-admin.sh failed ({p.returncode}): "
                    f"{p.stderr.strip()[-500:]}")
    return p.stdout.strip().splitlines()[-1]


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


def restart(start_broker, b):
    assert b.stop() == 0
    nb = start_broker(data_dir=b.data_dir, extra_args=["--config", str(b.data_dir.parent / "fast.yaml")])
    nb.wait_healthy()
    return nb


def call(admin_bin, b, *args):
    return subprocess.run([admin_bin, "--endpoint", f"http://127.0.0.1:{b.admin_port}", *map(str, args)],
                          capture_output=True, text=True, timeout=60)


def ok(admin_bin, b, *args):
    p = call(admin_bin, b, *args)
    assert p.returncode == 0, f"{args}: exit {p.returncode}: {p.stderr}"
    return json.loads(p.stdout)


def fails(admin_bin, b, code, *args):
    """The call fails with gRPC status `code`; returns the message."""
    p = call(admin_bin, b, *args)
    assert p.returncode == 1, f"{args}: exit {p.returncode}: {p.stdout} {p.stderr}"
    prefix = f"error: {code}: "
    assert p.stderr.startswith(prefix), f"{args}: {p.stderr}"
    return p.stderr[len(prefix):].strip()


def run(coro, timeout=120):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def client_for(b):
    return await DanubeClientBuilder().service_url(f"http://127.0.0.1:{b.listen_port}").build()


async def produce(b, topic, n, reliable=True):
    client = await client_for(b)
    builder = client.new_producer().with_topic(topic).with_name("p")
    if reliable:
        builder = builder.with_dispatch_strategy(DispatchStrategy.RELIABLE)
    p = builder.build()
    await p.create()
    for i in range(n):
        await p.send(f"m{i}".encode(), None)
    await p.close()


async def subscribe(b, topic, sub, name, sub_type=SubType.SHARED):
    client = await client_for(b)
    c = (client.new_consumer().with_topic(topic).with_consumer_name(name).with_subscription(sub)
         .with_subscription_type(sub_type).build())
    await c.subscribe()
    return c


def frazil(b, *args):
    p = subprocess.run([FRAZIL_BIN, *args, "--http", f"127.0.0.1:{b.http_port}"], capture_output=True,
                       text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def test_the_standalone_broker_lists_itself(admin_bin, broker):
    brokers = ok(admin_bin, broker, "brokers", "list")["brokers"]
    assert len(brokers) == 1
    me = brokers[0]
    assert me["broker_addr"] == f"http://127.0.0.1:{broker.listen_port}"
    assert me["admin_addr"] == f"http://127.0.0.1:{broker.admin_port}"
    assert me["metrics_addr"] == f"http://127.0.0.1:{broker.http_port}"
    assert me["broker_role"] == "Cluster_Leader" and me["broker_status"] == "active"
    assert me["broker_id"].isdigit()
    assert ok(admin_bin, broker, "brokers", "leader") == {"leader": me["broker_id"]}
    assert ok(admin_bin, broker, "brokers", "namespaces") == {"namespaces": ["default"]}
    # The HTTP admin API lists the same broker.
    status, body = http_get(broker.http_port, "/admin/brokers", timeout=10)
    assert status == 200 and json.loads(body)["brokers"][0]["id"] == me["broker_id"]


def test_namespaces(admin_bin, broker, start_broker):
    assert ok(admin_bin, broker, "namespaces", "create", "sales") == {"success": True}
    assert "already exists" in fails(admin_bin, broker, "ALREADY_EXISTS", "namespaces", "create", "sales")
    assert ok(admin_bin, broker, "brokers", "namespaces") == {"namespaces": ["default", "sales"]}
    assert ok(admin_bin, broker, "namespaces", "topics", "sales") == {"topics": []}
    policies = ok(admin_bin, broker, "namespaces", "policies", "sales")["policies"]
    assert policies["max_message_size"] == 5 << 20 and policies["auto_create_topics"] is True

    # Declared namespaces survive a restart.
    broker = restart(start_broker, broker)
    assert ok(admin_bin, broker, "brokers", "namespaces") == {"namespaces": ["default", "sales"]}

    run(produce(broker, "/sales/orders", 3))
    assert ok(admin_bin, broker, "namespaces", "topics", "sales") == {"topics": ["/sales/orders"]}
    msg = fails(admin_bin, broker, "FAILED_PRECONDITION", "namespaces", "delete", "sales")
    assert "not empty" in msg and "/sales/orders" in msg
    assert ok(admin_bin, broker, "topics", "delete", "/sales/orders") == {"success": True}
    assert ok(admin_bin, broker, "namespaces", "delete", "sales") == {"success": True}
    assert ok(admin_bin, broker, "brokers", "namespaces") == {"namespaces": ["default"]}
    assert "does not exist" in fails(admin_bin, broker, "NOT_FOUND", "namespaces", "delete", "sales")
    assert "does not exist" in fails(admin_bin, broker, "NOT_FOUND", "namespaces", "topics", "sales")
    assert "does not exist" in fails(admin_bin, broker, "NOT_FOUND", "namespaces", "policies", "sales")
    assert "cannot be deleted" in fails(admin_bin, broker, "FAILED_PRECONDITION", "namespaces", "delete",
                                        "default")
    for bad in ["a/b", "", "with space", "x" * 201]:
        assert "invalid namespace name" in fails(admin_bin, broker, "INVALID_ARGUMENT", "namespaces", "create", bad)
    # A producer's topic brings its namespace with it, and takes it away.
    run(produce(broker, "/implicit/t", 1))
    assert "implicit" in ok(admin_bin, broker, "brokers", "namespaces")["namespaces"]


def test_topics(admin_bin, broker):
    me = ok(admin_bin, broker, "brokers", "leader")["leader"]
    run(produce(broker, "/default/orders", 5, reliable=True))
    run(produce(broker, "/default/events", 2, reliable=False))
    assert ok(admin_bin, broker, "topics", "create", "/default/made") == {"success": True}
    assert ok(admin_bin, broker, "topics", "create", "/default/sure", "--reliable") == {"success": True}
    want = [{"name": "/default/events", "broker_id": me, "delivery": "NonReliable"},
            {"name": "/default/made", "broker_id": me, "delivery": "NonReliable"},
            {"name": "/default/orders", "broker_id": me, "delivery": "Reliable"},
            {"name": "/default/sure", "broker_id": me, "delivery": "Reliable"}]
    assert ok(admin_bin, broker, "topics", "list", "default") == {"topics": want}
    assert ok(admin_bin, broker, "topics", "broker-topics", me) == {"topics": want}
    assert ok(admin_bin, broker, "namespaces", "topics", "default") == {"topics": [t["name"] for t in want]}
    assert "is not known" in fails(admin_bin, broker, "NOT_FOUND", "topics", "broker-topics", "12345")
    assert "already exists" in fails(admin_bin, broker, "ALREADY_EXISTS", "topics", "create", "/default/orders")

    # A topic made by the admin takes messages like any other.
    run(produce(broker, "/default/made", 4, reliable=False))
    status, body = http_get(broker.http_port, "/admin/topics/default/made", timeout=10)
    assert status == 200 and json.loads(body)["wal"]["next_offset"] == 4

    # Partitioned topics: /ns/t-part-N.
    assert ok(admin_bin, broker, "topics", "create-partitioned", "/default/parts", "3") == {"success": True}
    topics = ok(admin_bin, broker, "namespaces", "topics", "default")["topics"]
    assert [t for t in topics if t.startswith("/default/parts")] == [f"/default/parts-part-{i}" for i in range(3)]
    assert "already exists" in fails(admin_bin, broker, "ALREADY_EXISTS", "topics", "create-partitioned",
                                     "/default/parts", "2")
    assert "partitions" in fails(admin_bin, broker, "INVALID_ARGUMENT", "topics", "create-partitioned",
                                 "/default/zero", "0")
    assert ok(admin_bin, broker, "topics", "delete", "/default/parts") == {"success": True}
    topics = ok(admin_bin, broker, "namespaces", "topics", "default")["topics"]
    assert not [t for t in topics if t.startswith("/default/parts")]

    # Unloading moves a topic to another broker: there is none.
    assert "standalone" in fails(admin_bin, broker, "FAILED_PRECONDITION", "topics", "unload", "/default/orders")
    assert "does not exist" in fails(admin_bin, broker, "NOT_FOUND", "topics", "unload", "/default/nope")

    assert ok(admin_bin, broker, "topics", "delete", "/default/made") == {"success": True}
    assert "does not exist" in fails(admin_bin, broker, "NOT_FOUND", "topics", "delete", "/default/made")
    assert "/default/made" not in ok(admin_bin, broker, "namespaces", "topics", "default")["topics"]
    assert "does not exist" in fails(admin_bin, broker, "NOT_FOUND", "topics", "describe", "/default/made")
    assert "namespace ghost does not exist" in fails(admin_bin, broker, "NOT_FOUND", "topics", "create",
                                                     "/ghost/t")
    for bad in ["nope", "/default", "/default/a/b", "/default/sp ace", ""]:
        assert "invalid topic name" in fails(admin_bin, broker, "INVALID_ARGUMENT", "topics", "create", bad)
        assert "invalid topic name" in fails(admin_bin, broker, "INVALID_ARGUMENT", "topics", "describe", bad)
    assert "does not exist" in fails(admin_bin, broker, "NOT_FOUND", "topics", "list", "ghost")


def test_subscriptions(admin_bin, broker, start_broker):
    run(produce(broker, "/default/subs", 3, reliable=True))

    async def consumers():
        cs = [await subscribe(broker, "/default/subs", "alpha", "c1"),
              await subscribe(broker, "/default/subs", "beta", "c2", SubType.EXCLUSIVE),
              await subscribe(broker, "/default/subs", "gamma", "c3", SubType.FAILOVER)]
        me = ok(admin_bin, broker, "brokers", "leader")["leader"]
        assert ok(admin_bin, broker, "topics", "subscriptions", "/default/subs") == {
            "subscriptions": ["alpha", "beta", "gamma"]}
        d = ok(admin_bin, broker, "topics", "describe", "/default/subs")
        assert d["name"] == "/default/subs" and d["subscriptions"] == ["alpha", "beta", "gamma"]
        assert d["broker_id"] == me and d["delivery"] == "Reliable" and d["schema_subject"] is None
        # Closed first: a Danube client whose subscription is deleted under
        # it subscribes again, which would bring the subscription back.
        for c in cs:
            await c.close()
    run(consumers())

    assert ok(admin_bin, broker, "topics", "unsubscribe", "/default/subs", "alpha") == {"success": True}
    # The same state through the HTTP admin API and `frazil topics`.
    status, body = http_get(broker.http_port, "/admin/topics/default/subs/subscriptions", timeout=10)
    assert status == 200 and json.loads(body) == {"subscriptions": ["beta", "gamma"]}
    code, out, err = frazil(broker, "topics", "unsubscribe", "/default/subs", "gamma")
    assert code == 0, err
    assert ok(admin_bin, broker, "topics", "subscriptions", "/default/subs") == {"subscriptions": ["beta"]}
    code, out, err = frazil(broker, "topics", "subscriptions", "/default/subs")
    assert code == 0 and out.split() == ["beta"], err

    assert "does not exist" in fails(admin_bin, broker, "NOT_FOUND", "topics", "unsubscribe", "/default/subs",
                                     "alpha")
    assert "does not exist" in fails(admin_bin, broker, "NOT_FOUND", "topics", "unsubscribe", "/default/none",
                                     "beta")
    assert "does not exist" in fails(admin_bin, broker, "NOT_FOUND", "topics", "subscriptions", "/default/none")
    assert "invalid topic name" in fails(admin_bin, broker, "INVALID_ARGUMENT", "topics", "unsubscribe", "subs",
                                         "beta")
    # Deleted subscriptions stay deleted; the other is kept (reliable topic).
    broker = restart(start_broker, broker)
    assert ok(admin_bin, broker, "topics", "subscriptions", "/default/subs") == {"subscriptions": ["beta"]}


def test_what_needs_a_cluster_or_a_later_slice(admin_bin, broker):
    me = ok(admin_bin, broker, "brokers", "leader")["leader"]
    for args in (["brokers", "unload", me], ["brokers", "activate", me], ["brokers", "balance"],
                 ["brokers", "rebalance"]):
        assert "needs a cluster" in fails(admin_bin, broker, "FAILED_PRECONDITION", *args), args
    run(produce(broker, "/default/fp", 1))
    # Failure policies and dispatch configuration: test_failure_policy.py;
    # topics bound to schema subjects: test_topics_bound_to_a_schema_subject.
    # The broker keeps serving.
    assert ok(admin_bin, broker, "topics", "describe", "/default/fp")["name"] == "/default/fp"


ORDER_V1 = json.dumps({"type": "record", "name": "Order", "fields": [{"name": "id", "type": "long"}]})


def test_topics_bound_to_a_schema_subject(admin_bin, broker):
    async def register():
        client = await DanubeClientBuilder().service_url(f"http://127.0.0.1:{broker.listen_port}").build()
        return await client.schema().register_schema("orders-value").with_type(SchemaType.AVRO) \
            .with_schema_data(ORDER_V1.encode()).execute()
    sid = run(register())
    # Unknown subject: refused before anything is created.
    assert "orders-nope" in fails(admin_bin, broker, "NOT_FOUND", "topics", "create", "/default/bound", "--schema",
                                  "orders-nope")
    assert "does not exist" in fails(admin_bin, broker, "NOT_FOUND", "topics", "describe", "/default/bound")
    assert ok(admin_bin, broker, "topics", "create", "/default/bound", "--reliable", "--schema", "orders-value") == \
        {"success": True}
    d = ok(admin_bin, broker, "topics", "describe", "/default/bound")
    assert (d["schema_subject"], d["schema_id"], d["schema_version"], d["schema_type"]) == \
        ("orders-value", sid, 1, "avro"), d
    assert d["delivery"] == "Reliable"
    assert ok(admin_bin, broker, "topics", "create-partitioned", "/default/pbound", "2", "--schema",
              "orders-value") == {"success": True}
    for part in ("/default/pbound-part-0", "/default/pbound-part-1"):
        assert ok(admin_bin, broker, "topics", "describe", part)["schema_subject"] == "orders-value"
    # A topic without a subject describes none.
    run(produce(broker, "/default/plain", 1))
    assert ok(admin_bin, broker, "topics", "describe", "/default/plain")["schema_subject"] is None


def test_names_that_are_not_utf8_are_refused_by_name(broker):
    """Raw requests (the CLI cannot send such bytes): NamespaceRequest{name}
    and SubscriptionRequest{topic, subscription} with invalid UTF-8."""
    ch = grpc.insecure_channel(f"127.0.0.1:{broker.admin_port}")

    def raw(method, body):
        return ch.unary_unary(method, request_serializer=None, response_deserializer=None)(body, timeout=10)

    with pytest.raises(grpc.RpcError) as e:
        raw("/danube_admin.NamespaceAdmin/CreateNamespace", b"\x0a\x02\xff\xfe")
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "namespace" in e.value.details()
    topic = b"/default/t"
    with pytest.raises(grpc.RpcError) as e:
        raw("/danube_admin.TopicAdmin/Unsubscribe", b"\x0a" + bytes([len(topic)]) + topic + b"\x12\x01\xff")
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "UTF-8" in e.value.details()
    # Danube's ClusterAdmin and SecurityAdmin are not served.
    with pytest.raises(grpc.RpcError) as e:
        raw("/danube_admin.ClusterAdmin/ClusterStatus", b"")
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
    ch.close()


def test_frazil_cli_and_http_share_the_admin(admin_bin, broker):
    code, out, err = frazil(broker, "namespaces", "create", "shop")
    assert code == 0 and out.strip() == "created namespace shop", err
    assert "shop" in ok(admin_bin, broker, "brokers", "namespaces")["namespaces"]
    code, out, err = frazil(broker, "topics", "create", "/shop/carts", "--reliable")
    assert code == 0, err
    code, out, err = frazil(broker, "topics", "create", "/shop/views", "--partitions", "2")
    assert code == 0, err
    me = ok(admin_bin, broker, "brokers", "leader")["leader"]
    assert ok(admin_bin, broker, "topics", "list", "shop") == {"topics": [
        {"name": "/shop/carts", "broker_id": me, "delivery": "Reliable"},
        {"name": "/shop/views-part-0", "broker_id": me, "delivery": "NonReliable"},
        {"name": "/shop/views-part-1", "broker_id": me, "delivery": "NonReliable"}]}
    assert ok(admin_bin, broker, "topics", "create", "/shop/gifts") == {"success": True}
    code, out, err = frazil(broker, "namespaces", "topics", "shop")
    assert code == 0 and out.split() == ["/shop/carts", "/shop/gifts", "/shop/views-part-0", "/shop/views-part-1"]
    code, out, err = frazil(broker, "namespaces", "delete", "shop")
    assert code == 1 and "not empty" in err
    code, out, err = frazil(broker, "topics", "create", "/shop/carts")
    assert code == 1 and "already exists" in err
    code, out, err = frazil(broker, "topics", "create", "/shop/x", "--partitions", "0")
    assert code == 1 and "partitions" in err
    status, body = http_get(broker.http_port, "/admin/namespaces/shop", timeout=10)
    assert status == 200 and json.loads(body)["topics"] == ["/shop/carts", "/shop/gifts", "/shop/views-part-0",
                                                            "/shop/views-part-1"]
    for t in ["/shop/carts", "/shop/gifts", "/shop/views"]:
        code, out, err = frazil(broker, "topics", "delete", t)
        assert code == 0, err
    code, out, err = frazil(broker, "namespaces", "delete", "shop")
    assert code == 0, err
    code, out, err = frazil(broker, "namespaces", "list")
    assert code == 0 and out.split() == ["default"]


def test_our_proto_matches_danubes_on_the_wire(admin_bin, tmp_path):
    """proto/danube_admin.proto against DanubeAdmin.proto as danube-core 0.15.1
    ships it (in cargo's registry once setup-danube-admin.sh has built): every
    message we declare has the same fields (names, numbers, types, labels;
    `bytes` for `string` allowed), the same enums and the same methods."""
    from google.protobuf import descriptor_pb2
    cargo_home = pathlib.Path(os.environ.get("CARGO_HOME", pathlib.Path.home() / ".cargo"))
    found = sorted(cargo_home.glob("registry/src/*/danube-core-0.15.1/proto/DanubeAdmin.proto"))
    if not found:
        pytest.skip(f"danube-core 0.15.1's sources are not under {cargo_home}/registry/src")

    def descriptor(include, name):
        out = tmp_path / (name + ".pb")
        subprocess.run(["protoc", f"-I{include}", f"--descriptor_set_out={out}", name], check=True)
        fs = descriptor_pb2.FileDescriptorSet()
        fs.ParseFromString(out.read_bytes())
        return fs.file[0]

    theirs = descriptor(found[0].parent, "DanubeAdmin.proto")
    ours = descriptor(REPO / "proto", "danube_admin.proto")
    assert ours.package == theirs.package == "danube_admin"
    their_msgs = {m.name: m for m in theirs.message_type}
    string_or_bytes = {descriptor_pb2.FieldDescriptorProto.TYPE_STRING, descriptor_pb2.FieldDescriptorProto.TYPE_BYTES}
    fields = 0
    for m in ours.message_type:
        want = {f.number: f for f in their_msgs[m.name].field}
        assert sorted(want) == sorted(f.number for f in m.field), m.name
        for f in m.field:
            g = want[f.number]
            assert (f.name, f.label, f.type_name, f.proto3_optional) == (g.name, g.label, g.type_name,
                                                                         g.proto3_optional), (m.name, f.name)
            assert f.type == g.type or {f.type, g.type} == string_or_bytes, (m.name, f.name)
            fields += 1
    their_enums = {e.name: [(v.name, v.number) for v in e.value] for e in theirs.enum_type}
    for e in ours.enum_type:
        assert [(v.name, v.number) for v in e.value] == their_enums[e.name], e.name

    def methods(s):
        return {(x.name, x.input_type, x.output_type, x.client_streaming, x.server_streaming) for x in s.method}
    their_services = {s.name: methods(s) for s in theirs.service}
    assert sorted(s.name for s in ours.service) == ["BrokerAdmin", "NamespaceAdmin", "TopicAdmin"]
    for s in ours.service:
        assert methods(s) == their_services[s.name], s.name
    assert fields > 90  # every message of the three services, not a few
