"""Danube's schema registry on `frazil serve`'s Danube port, driven by the
Danube Python SDK's SchemaRegistryClient (its stubs are generated from
Danube's own SchemaRegistry.proto: the wire format Frazil must match) and
by raw gRPC calls with messages generated at test time from Frazil's
proto/schema_registry.proto (the SDK's stubs predate ListSubjects)."""

import asyncio
import json
import pathlib
import shutil
import subprocess
import types

import grpc
import pytest
from danube import DanubeClientBuilder
from danube.schema import CompatibilityMode, SchemaType
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

PROTO_DIR = pathlib.Path(__file__).resolve().parents[2] / "proto"

USER_V1 = json.dumps({"type": "record", "name": "User", "fields": [{"name": "id", "type": "long"}]}).encode()
# Adds an optional field with a default: compatible both ways.
USER_V2 = json.dumps({"type": "record", "name": "User", "fields": [
    {"name": "id", "type": "long"}, {"name": "email", "type": ["null", "string"], "default": None}]}).encode()
# Adds a required field: old data cannot be read with it (not backward).
USER_BAD = json.dumps({"type": "record", "name": "User", "fields": [
    {"name": "id", "type": "long"}, {"name": "age", "type": "int"}]}).encode()


def run(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


@pytest.fixture
def broker(start_broker):
    b = start_broker()
    b.wait_healthy()
    return b


@pytest.fixture(scope="module")
def pb(tmp_path_factory):
    """The messages of proto/schema_registry.proto, compiled by protoc (which the build needs anyway) into a
    private descriptor pool: the SDK has put Danube's own messages of the same names in the default one."""
    protoc = shutil.which("protoc")
    assert protoc, "protoc is needed (the C++ build uses it too)"
    out = tmp_path_factory.mktemp("pb") / "schema_registry.desc"
    subprocess.run([protoc, f"-I{PROTO_DIR}", f"--descriptor_set_out={out}", "schema_registry.proto"], check=True)
    files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for f in files.file:
        pool.Add(f)
    file = pool.FindFileByName("schema_registry.proto")
    return types.SimpleNamespace(**{name: message_factory.GetMessageClass(d)
                                    for name, d in file.message_types_by_name.items()})


class Stub:
    """Unary calls of danube_schema.SchemaRegistry with our own messages."""

    RESPONSES = {
        "RegisterSchema": "RegisterSchemaResponse", "GetSchema": "GetSchemaResponse",
        "GetLatestSchema": "GetSchemaResponse", "ListVersions": "ListVersionsResponse",
        "CheckCompatibility": "CheckCompatibilityResponse", "DeleteSchemaVersion": "DeleteSchemaVersionResponse",
        "SetCompatibilityMode": "SetCompatibilityModeResponse", "ListSubjects": "ListSubjectsResponse",
        "ConfigureTopicSchema": "ConfigureTopicSchemaResponse",
    }

    def __init__(self, channel, pb):
        for method, resp in self.RESPONSES.items():
            setattr(self, method, channel.unary_unary(
                f"/danube_schema.SchemaRegistry/{method}",
                request_serializer=lambda m: m.SerializeToString(),
                response_deserializer=getattr(pb, resp).FromString))


def stub(b, pb):
    channel = grpc.insecure_channel(f"127.0.0.1:{b.listen_port}")
    return channel, Stub(channel, pb)


def test_sdk_register_get_list_check_delete(broker):
    async def go():
        client = await DanubeClientBuilder().service_url(f"http://127.0.0.1:{broker.listen_port}").build()
        reg = client.schema()
        sid = await (reg.register_schema("users").with_type(SchemaType.AVRO).with_schema_data(USER_V1)
                     .with_description("v1").with_tags(["team-a"]).execute())
        assert sid > 0
        # The same schema again: the same id, no new version.
        assert await reg.register_schema("users").with_type(SchemaType.AVRO).with_schema_data(USER_V1).execute() == sid
        ok, errors = await reg.check_compatibility("users", USER_V2, SchemaType.AVRO)
        assert ok and errors == []
        ok, errors = await reg.check_compatibility("users", USER_BAD, SchemaType.AVRO)
        assert not ok
        assert any("User.age" in e for e in errors), errors
        # Forward only: the old reader skips the new field.
        ok, _ = await reg.check_compatibility("users", USER_BAD, SchemaType.AVRO, CompatibilityMode.FORWARD)
        assert ok
        assert await reg.register_schema("users").with_type(SchemaType.AVRO).with_schema_data(USER_V2).execute() == sid
        assert await reg.list_versions("users") == [1, 2]
        latest = await reg.get_latest_schema("users")
        assert (latest.schema_id, latest.version, latest.schema_type) == (sid, 2, "avro")
        assert latest.schema_definition == USER_V2
        assert latest.fingerprint.startswith("sha256:")
        first = await reg.get_schema_version(sid, 1)
        assert first.schema_definition == USER_V1
        assert await reg.set_compatibility_mode("users", CompatibilityMode.FULL) == (
            True, "compatibility mode of subject users is full")
        success, _ = await reg.delete_schema_version("users", 2)
        assert success
        assert await reg.list_versions("users") == [1]
        # An incompatible schema is refused with the reason.
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await reg.register_schema("users").with_type(SchemaType.AVRO).with_schema_data(USER_BAD).execute()
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "User.age" in e.value.details()
        # Per-topic calls need a topic the broker has (as Danube's do);
        # test_schema_binding.py covers them on real topics.
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await reg.configure_topic_schema("/default/t", "users")
        assert e.value.code() == grpc.StatusCode.NOT_FOUND
        assert "not found on this broker" in e.value.details()
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await reg.get_topic_schema_config("/default/t")
        assert e.value.code() == grpc.StatusCode.NOT_FOUND
    run(go())


def test_raw_grpc_errors_and_survives_restart(start_broker, pb):
    b = start_broker()
    b.wait_healthy()
    channel, s = stub(b, pb)
    with channel:
        r = s.RegisterSchema(pb.RegisterSchemaRequest(subject=b"orders", schema_type=b"avro",
                                                      schema_definition=USER_V1, created_by=b"raw"))
        assert (r.version, r.is_new_version) == (1, True)
        r2 = s.RegisterSchema(pb.RegisterSchemaRequest(subject=b"orders", schema_type=b"avro",
                                                       schema_definition=USER_V2))
        assert (r2.schema_id, r2.version) == (r.schema_id, 2)
        s.DeleteSchemaVersion(pb.DeleteSchemaVersionRequest(subject=b"orders", version=2))
        s.SetCompatibilityMode(pb.SetCompatibilityModeRequest(subject=b"orders", compatibility_mode=b"forward"))
        t = s.RegisterSchema(pb.RegisterSchemaRequest(subject=b"text", schema_type=b"string",
                                                      schema_definition=b"-"))
        assert t.schema_id != r.schema_id
        # Bad input: clear errors, and the broker keeps serving.
        for req, code, words in [
            (pb.RegisterSchemaRequest(subject=b"x", schema_type=b"avro", schema_definition=b"{nope"),
             grpc.StatusCode.INVALID_ARGUMENT, "invalid Avro schema"),
            (pb.RegisterSchemaRequest(subject=b"x", schema_type=b"avro",
                                      schema_definition=b'{"type":"array","items":' * 5000 + b'"int"' + b"}" * 5000),
             grpc.StatusCode.INVALID_ARGUMENT, "nested"),
            (pb.RegisterSchemaRequest(subject=b"x", schema_type=b"yaml", schema_definition=b"a: 1"),
             grpc.StatusCode.INVALID_ARGUMENT, "unknown schema type"),
            (pb.RegisterSchemaRequest(subject=b"", schema_type=b"avro", schema_definition=USER_V1),
             grpc.StatusCode.INVALID_ARGUMENT, "subject is empty"),
            (pb.RegisterSchemaRequest(subject=b"bad\xff", schema_type=b"avro", schema_definition=USER_V1),
             grpc.StatusCode.INVALID_ARGUMENT, "subject is not valid UTF-8"),
            (pb.RegisterSchemaRequest(subject=b"x", schema_type=b"protobuf", schema_definition=b"syntax"),
             grpc.StatusCode.INVALID_ARGUMENT, "protobuf schema: it defines no message"),
        ]:
            with pytest.raises(grpc.RpcError) as e:
                s.RegisterSchema(req)
            assert e.value.code() == code, e.value.details()
            assert words in e.value.details()
        with pytest.raises(grpc.RpcError) as e:
            s.GetLatestSchema(pb.GetLatestSchemaRequest(subject=b"missing"))
        assert e.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.RpcError) as e:
            s.GetSchema(pb.GetSchemaRequest(schema_id=r.schema_id, version=2))  # deleted
        assert e.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.RpcError) as e:
            s.SetCompatibilityMode(pb.SetCompatibilityModeRequest(subject=b"orders", compatibility_mode=b"sideways"))
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        before = s.ListSubjects(pb.ListSubjectsRequest())
    assert b.stop() == 0

    b2 = start_broker(data_dir=b.data_dir)
    b2.wait_healthy()
    channel, s = stub(b2, pb)
    with channel:
        after = s.ListSubjects(pb.ListSubjectsRequest())
        assert after == before
        by_name = {x.subject: x for x in after.subjects}
        assert by_name["orders"].latest_version == 1
        assert by_name["orders"].compatibility_mode == "forward"
        assert by_name["text"].schema_type == "string"
        got = s.GetSchema(pb.GetSchemaRequest(schema_id=r.schema_id))
        assert (got.version, got.schema_definition, got.created_by) == (1, USER_V1, "raw")
        # Version 2 was deleted before the restart: the next one is 3.
        r3 = s.RegisterSchema(pb.RegisterSchemaRequest(subject=b"orders", schema_type=b"avro",
                                                       schema_definition=USER_V2))
        assert (r3.schema_id, r3.version) == (r.schema_id, 3)
        versions = s.ListVersions(pb.ListVersionsRequest(subject=b"orders"))
        assert [v.version for v in versions.versions] == [1, 3]
        assert all(v.schema_id == r.schema_id for v in versions.versions)
