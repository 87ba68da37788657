"""Danube's schema registry and schema-bound producers on `frazil serve`,
driven by Danube's Rust client 0.15 (crates.io danube-client, pinned in
tests/danube-rust/Cargo.lock; built by scripts/setup-danube-rust.sh).

What the Rust client has calls for (register, get by id and version, latest,
versions, compatibility check and mode, producers bound with
with_schema_subject / with_schema_version / with_schema_min_version, the
consumer's schema_id and schema_version) goes through the client as a user
would call it; DeleteSchemaVersion, ListSubjects and the per-topic calls go
through danube-core's generated stubs (the client has no wrapper for them).

The producer tests follow Danube's semantics (its broker's
topic_schema.rs and broker_service.rs): the first producer with a schema
reference binds the topic to that subject, which must be registered; a
producer naming another subject is refused; messages carry the schema id
and version the client resolved; under the `enforce` policy a message
without a schema id, or with a payload the schema refuses (with payload
validation on), is refused and not stored; under `warn` it is kept."""
import base64
import json
import selectors
import signal
import time

import pytest

from conftest import avro_long

# --- schemas ---------------------------------------------------------------

def avro(fields, name="User"):
    return json.dumps({"type": "record", "name": name, "fields": fields})


ID = {"name": "id", "type": "long"}
EMAIL_OPT = {"name": "email", "type": ["null", "string"], "default": None}
AGE_REQ = {"name": "age", "type": "int"}
ID_AS_STRING = {"name": "id", "type": "string"}


def jsonschema(props, required=()):
    return json.dumps({"type": "object", "properties": props, "required": list(required)})


NAME = {"type": "string"}

# --- Avro binary encoding, for payloads (the spec's zig-zag varints) --------

def avro_user_v1(i: int) -> bytes:  # {id: long}
    return avro_long(i)


def avro_user_v2(i: int, email=None) -> bytes:  # {id: long, email: [null, string]}
    if email is None:
        return avro_long(i) + avro_long(0)
    e = email.encode()
    return avro_long(i) + avro_long(1) + avro_long(len(e)) + e


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


# --- helpers ---------------------------------------------------------------

@pytest.fixture
def broker(start_broker, tmp_path):
    cfg = tmp_path / "fast.yaml"
    cfg.write_text("client_timeout_ms: 8000\nwal:\n  sync_mode: none\n")
    b = start_broker(extra_args=["--config", str(cfg)])
    b.wait_healthy()
    b.config = cfg
    return b


class Registry:
    """The registry calls of one broker, through the Rust client."""

    def __init__(self, rs, broker, tmp_path):
        self.rs, self.broker, self.dir, self.n = rs, broker, tmp_path, 0

    def file(self, text: str) -> str:
        self.n += 1
        f = self.dir / f"schema-{self.n}.txt"
        f.write_text(text)
        return str(f)

    def call(self, cmd, *args):
        return self.rs.call(self.broker, cmd, *args)

    def register(self, subject, type_, definition=None, full=False):
        args = ["--subject", subject, "--type", type_]
        if definition is not None:
            args += ["--file", self.file(definition)]
        if full:
            args.append("--full")
        return self.call("register", *args)

    def check(self, subject, type_, definition, mode=None):
        args = ["--subject", subject, "--type", type_, "--file", self.file(definition)]
        if mode:
            args += ["--mode", mode]
        return self.call("check", *args)


@pytest.fixture
def reg(danube_rs, broker, tmp_path):
    return Registry(danube_rs, broker, tmp_path)


def ok(r):
    assert r["ok"] is True, r
    return r


def refused(r, code, *words):
    """A call the broker answered with gRPC status `code`, its message naming `words`."""
    assert r["ok"] is False and r["kind"] == "status" and r["code"] == code, r
    for w in words:
        assert w.lower() in r["message"].lower(), r
    return r


class Consumer:
    """frazil-danube-rs consume, running; subscribed once constructed."""

    def __init__(self, rs, broker, topic, sub, count, timeout=15):
        self.p = rs.start(broker, "consume", "--topic", topic, "--subscription", sub, "--count", count,
                          "--timeout", timeout)
        first = self._line(30)
        assert first and first.get("event") == "subscribed", (first, self.p.stderr.read() if first is None else "")

    def _line(self, timeout):
        sel = selectors.DefaultSelector()
        sel.register(self.p.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            return None
        line = self.p.stdout.readline()
        return json.loads(line) if line.strip() else None

    def messages(self, timeout=60):
        """Every message line and the final line, once the consumer is done."""
        out, _ = self.p.communicate(timeout=timeout)
        lines = [json.loads(x) for x in out.splitlines() if x.strip()]
        msgs = [x for x in lines if x.get("event") == "message"]
        for m in msgs:
            m["payload"] = base64.b64decode(m["payload_b64"])
        return msgs, lines[-1]


def produce(rs, broker, topic, *args):
    rc, lines = rs.run(broker, "produce", "--topic", topic, "--reliable", *args)
    return lines


# --- the registry ----------------------------------------------------------

@pytest.mark.parametrize("type_", ["bytes", "string", "number"])
def test_untyped_schemas_register_once(reg, type_):
    subject = f"plain-{type_}"
    first = ok(reg.register(subject, type_, full=True))
    assert first["version"] == 1 and first["is_new_version"] is True
    assert first["fingerprint"].startswith("sha256:")
    again = ok(reg.register(subject, type_, full=True))
    assert (again["schema_id"], again["version"], again["is_new_version"]) == (first["schema_id"], 1, False)
    # The client's own builder answers the same id.
    assert ok(reg.register(subject, type_))["schema_id"] == first["schema_id"]
    latest = ok(reg.call("latest", "--subject", subject))
    assert (latest["schema_id"], latest["version"], latest["schema_type"]) == (first["schema_id"], 1, type_)
    assert ok(reg.call("versions", "--subject", subject))["versions"] == [1]


def test_avro_subject_evolves(reg):
    v1, v2 = avro([ID]), avro([ID, EMAIL_OPT])
    r1 = ok(reg.register("users", "avro", v1, full=True))
    r2 = ok(reg.register("users", "avro", v2, full=True))  # backward (the default): v2 reads v1 data
    assert r1["version"] == 1 and r2["version"] == 2 and r1["schema_id"] == r2["schema_id"]
    assert r1["fingerprint"] != r2["fingerprint"]
    assert ok(reg.call("versions", "--subject", "users"))["versions"] == [1, 2]
    got1 = ok(reg.call("get", "--id", r1["schema_id"], "--version", 1))
    assert (got1["version"], got1["subject"], got1["schema_type"]) == (1, "users", "avro")
    assert json.loads(got1["definition"]) == json.loads(v1)
    latest = ok(reg.call("get", "--id", r1["schema_id"]))
    assert latest["version"] == 2 and json.loads(latest["definition"]) == json.loads(v2)
    assert ok(reg.call("latest", "--subject", "users"))["fingerprint"] == r2["fingerprint"]
    # The same schema with other whitespace and key order is the same version.
    v1_reordered = json.dumps({"fields": [{"type": "long", "name": "id"}], "name": "User", "type": "record"},
                              indent=2)
    again = ok(reg.register("users", "avro", v1_reordered, full=True))
    assert (again["version"], again["is_new_version"]) == (1, False)
    # Another subject gets another id.
    other = ok(reg.register("orders", "avro", avro([ID], "Order")))
    assert other["schema_id"] != r1["schema_id"]
    subjects = {s["subject"]: s for s in ok(reg.call("subjects"))["subjects"]}
    assert subjects["users"]["latest_version"] == 2 and subjects["users"]["schema_type"] == "avro"
    assert subjects["users"]["schema_id"] == r1["schema_id"]


def test_json_schema_subject_evolves(reg):
    # JSON Schema compatibility is its own test below; here mode none.
    v1 = jsonschema({"name": NAME}, ["name"])
    v2 = jsonschema({"name": NAME, "email": NAME}, ["name"])
    r1 = ok(reg.register("people", "json_schema", v1, full=True))
    ok(reg.call("set-mode", "--subject", "people", "--mode", "none"))
    r2 = ok(reg.register("people", "json_schema", v2, full=True))
    assert (r1["version"], r2["version"]) == (1, 2) and r1["schema_id"] == r2["schema_id"]
    got = ok(reg.call("get", "--id", r1["schema_id"], "--version", 1))
    assert got["schema_type"] == "json_schema" and json.loads(got["definition"]) == json.loads(v1)
    assert ok(reg.call("latest", "--subject", "people"))["version"] == 2


def test_protobuf_is_kept_as_text_and_its_compatibility_is_not_guessed(danube_rs, broker, reg):
    v1 = 'syntax = "proto3";\nmessage M { int64 id = 1; }\n'
    v2 = 'syntax = "proto3";\nmessage M { int64 id = 1; string name = 2; }\n'
    r1 = ok(reg.register("proto", "protobuf", v1, full=True))
    assert r1["version"] == 1
    got = ok(reg.call("latest", "--subject", "proto"))
    assert (got["schema_type"], got["definition"], got["version"]) == ("protobuf", v1, 1)
    # Backward, Danube's default: Frazil cannot check a protobuf change and says so.
    refused(reg.register("proto", "protobuf", v2), "Unimplemented", "compatibility of protobuf", "mode to none")
    refused(reg.check("proto", "protobuf", v2), "Unimplemented", "protobuf")
    ok(reg.call("set-mode", "--subject", "proto", "--mode", "none"))
    assert ok(reg.register("proto", "protobuf", v2, full=True))["version"] == 2
    refused(reg.register("proto2", "protobuf", '{"type": "record"}'), "InvalidArgument", "protobuf schema")
    # Producers bind to it and messages carry its id; payloads are not validated.
    topic = "/default/rs-proto"
    lines = produce(danube_rs, broker, topic, "--name", "p0", "--subject", "proto", "--payload", "\x08\x01")
    assert lines[-1]["acked"] == 1, lines
    refused(danube_rs.call(broker, "configure-topic", "--topic", topic, "--subject", "proto", "--policy", "enforce",
                           "--payload-validation"), "Unimplemented", "payload validation of protobuf")
    refused(danube_rs.call(broker, "update-policy", "--topic", topic, "--policy", "enforce", "--payload-validation"),
            "Unimplemented", "protobuf")
    ok(danube_rs.call(broker, "update-policy", "--topic", topic, "--policy", "enforce"))


# (old fields, new fields) -> which modes accept the change. Backward: the
# new schema reads data written with the old; forward: the old reads the new.
AVRO_CHANGES = {
    "add optional field": ([ID], [ID, EMAIL_OPT], {"none", "backward", "forward", "full"}),
    "add required field": ([ID], [ID, AGE_REQ], {"none", "forward"}),
    "remove required field": ([ID, AGE_REQ], [ID], {"none", "backward"}),
    "change a field's type": ([ID], [ID_AS_STRING], {"none"}),
    "promote int to long": ([{"name": "n", "type": "int"}], [{"name": "n", "type": "long"}], {"none", "backward"}),
}


@pytest.mark.parametrize("change", sorted(AVRO_CHANGES))
@pytest.mark.parametrize("mode", ["none", "backward", "forward", "full"])
def test_avro_compatibility_modes(reg, change, mode):
    old, new, accepted = AVRO_CHANGES[change]
    subject = f"avro-{mode}-{change.replace(' ', '-')}"
    ok(reg.register(subject, "avro", avro(old)))
    ok(reg.call("set-mode", "--subject", subject, "--mode", mode))
    # The check with the subject's mode, and with the mode given in the call.
    for r in (reg.check(subject, "avro", avro(new)), reg.check(subject, "avro", avro(new), mode=mode)):
        ok(r)
        assert r["is_compatible"] is (mode in accepted), (change, mode, r)
        assert (r["errors"] == []) is (mode in accepted), r
    r = reg.register(subject, "avro", avro(new), full=True)
    if mode in accepted:
        assert ok(r)["version"] == 2
        assert ok(reg.call("versions", "--subject", subject))["versions"] == [1, 2]
    else:
        refused(r, "InvalidArgument", "not compatible")
        assert ok(reg.call("versions", "--subject", subject))["versions"] == [1]  # nothing half-registered


def test_check_mode_overrides_subject_mode(reg):
    ok(reg.register("override", "avro", avro([ID])))  # mode: backward (the default)
    bad = avro([ID, AGE_REQ])
    assert ok(reg.check("override", "avro", bad))["is_compatible"] is False
    assert ok(reg.check("override", "avro", bad, mode="forward"))["is_compatible"] is True
    assert ok(reg.check("override", "avro", bad, mode="none"))["is_compatible"] is True
    # The override did not change the subject's mode.
    assert ok(reg.check("override", "avro", bad))["is_compatible"] is False
    # A change of type is never compatible, except under none.
    r = ok(reg.check("override", "json_schema", jsonschema({"id": NAME})))
    assert r["is_compatible"] is False and r["errors"], r


# Cases where Danube's JSON Schema checker and the schema-resolution reading
# of JSON Schema agree (an open content model: extra properties allowed).
JSON_CHANGES = {
    "add optional property": (({"name": NAME}, ["name"]), ({"name": NAME, "email": NAME}, ["name"]),
                              {"none", "backward", "forward", "full"}),
    "make optional property required": (({"name": NAME, "age": {"type": "integer"}}, ["name"]),
                                        ({"name": NAME, "age": {"type": "integer"}}, ["name", "age"]),
                                        {"none", "forward"}),
    "change a property's type": (({"id": NAME}, ["id"]), ({"id": {"type": "integer"}}, ["id"]), {"none"}),
}


@pytest.mark.parametrize("change", sorted(JSON_CHANGES))
@pytest.mark.parametrize("mode", ["none", "backward", "forward", "full"])
def test_json_schema_compatibility_modes(reg, change, mode):
    old, new, accepted = JSON_CHANGES[change]
    subject = f"json-{mode}-{change.replace(' ', '-')}"
    ok(reg.register(subject, "json_schema", jsonschema(*old)))
    ok(reg.call("set-mode", "--subject", subject, "--mode", mode))
    r = ok(reg.check(subject, "json_schema", jsonschema(*new)))
    assert r["is_compatible"] is (mode in accepted), (change, mode, r)
    r = reg.register(subject, "json_schema", jsonschema(*new), full=True)
    if mode in accepted:
        assert ok(r)["version"] == 2
    else:
        refused(r, "InvalidArgument", "not compatible")
        assert ok(reg.call("versions", "--subject", subject))["versions"] == [1]


def test_unknown_and_malformed_give_clear_errors(reg):
    r1 = ok(reg.register("known", "avro", avro([ID])))
    refused(reg.call("latest", "--subject", "nobody"), "NotFound", "nobody")
    refused(reg.call("versions", "--subject", "nobody"), "NotFound", "nobody")
    refused(reg.call("get", "--id", r1["schema_id"] + 1000), "NotFound", str(r1["schema_id"] + 1000))
    refused(reg.call("get", "--id", r1["schema_id"], "--version", 7), "NotFound", "7")
    refused(reg.check("nobody", "avro", avro([ID])), "NotFound", "nobody")
    refused(reg.call("set-mode", "--subject", "nobody", "--mode", "full"), "NotFound", "nobody")
    refused(reg.call("delete", "--subject", "known", "--version", 9), "NotFound", "9")
    # Malformed schemas.
    refused(reg.register("bad", "avro", '{"type": "record", "name": "X"'), "InvalidArgument", "avro")
    refused(reg.register("bad", "avro", '{"type": "record", "name": "X", "fields": [{"name": "a", "type": "nope"}]}'),
            "InvalidArgument", "avro")
    refused(reg.register("bad", "avro", ""), "InvalidArgument")
    refused(reg.register("bad", "json_schema", "{not json"), "InvalidArgument", "json")
    refused(reg.register("bad", "json_schema", "42"), "InvalidArgument", "json")
    refused(reg.register("", "avro", avro([ID])), "InvalidArgument", "subject")
    refused(reg.check("known", "avro", "[[["), "InvalidArgument", "avro")
    deep = "[" * 200 + "]" * 200
    refused(reg.register("deep", "json_schema", '{"items": ' + deep + "}"), "InvalidArgument", "nested")
    huge = avro([ID] + [{"name": f"f{i}", "type": "string", "doc": "x" * 100} for i in range(12000)])
    assert len(huge) > 1 << 20
    refused(reg.register("huge", "avro", huge), "InvalidArgument", "larger")
    refused(reg.call("latest", "--subject", "bad"), "NotFound")  # nothing registered by the failures
    refused(reg.call("latest", "--subject", "huge"), "NotFound")
    # The broker keeps serving.
    assert ok(reg.call("latest", "--subject", "known"))["version"] == 1
    assert ok(reg.register("known", "avro", avro([ID, EMAIL_OPT]), full=True))["version"] == 2


def test_deleted_versions_are_never_reused(reg):
    sid = ok(reg.register("del", "avro", avro([ID])))["schema_id"]
    ok(reg.call("set-mode", "--subject", "del", "--mode", "none"))
    ok(reg.register("del", "avro", avro([ID, EMAIL_OPT])))
    ok(reg.register("del", "avro", avro([ID_AS_STRING])))
    assert ok(reg.call("delete", "--subject", "del", "--version", 2))["success"] is True
    assert ok(reg.call("versions", "--subject", "del"))["versions"] == [1, 3]
    refused(reg.call("get", "--id", sid, "--version", 2), "NotFound")
    refused(reg.call("delete", "--subject", "del", "--version", 2), "NotFound")
    # Registering the deleted schema again makes a new version.
    assert ok(reg.register("del", "avro", avro([ID, EMAIL_OPT]), full=True))["version"] == 4
    ok(reg.call("delete", "--subject", "del", "--version", 4))
    ok(reg.call("delete", "--subject", "del", "--version", 3))
    assert ok(reg.call("latest", "--subject", "del"))["version"] == 1


def test_registry_survives_restart(danube_rs, start_broker, tmp_path):
    b = start_broker()
    b.wait_healthy()
    reg = Registry(danube_rs, b, tmp_path)
    users = ok(reg.register("users", "avro", avro([ID])))["schema_id"]
    ok(reg.register("users", "avro", avro([ID, EMAIL_OPT])))
    ok(reg.call("set-mode", "--subject", "users", "--mode", "forward"))
    ok(reg.register("users", "avro", avro([ID, EMAIL_OPT, AGE_REQ])))  # forward allows it
    ok(reg.call("delete", "--subject", "users", "--version", 2))
    text = ok(reg.register("texts", "string"))["schema_id"]
    assert b.stop() == 0

    b2 = start_broker(data_dir=b.data_dir)
    b2.wait_healthy()
    reg = Registry(danube_rs, b2, tmp_path / "after")
    (tmp_path / "after").mkdir()
    assert ok(reg.call("versions", "--subject", "users"))["versions"] == [1, 3]
    latest = ok(reg.call("latest", "--subject", "users"))
    assert (latest["schema_id"], latest["version"]) == (users, 3)
    assert json.loads(latest["definition"]) == json.loads(avro([ID, EMAIL_OPT, AGE_REQ]))
    assert ok(reg.call("get", "--id", users, "--version", 1))["version"] == 1
    refused(reg.call("get", "--id", users, "--version", 2), "NotFound")
    # The mode survived: forward refuses removing a required field.
    assert ok(reg.check("users", "avro", avro([ID, EMAIL_OPT])))["is_compatible"] is False
    assert ok(reg.call("latest", "--subject", "texts"))["schema_id"] == text
    # Numbers go on after the restart: version 4, a fresh id.
    assert ok(reg.register("users", "avro", avro([ID, EMAIL_OPT, AGE_REQ, {"name": "x", "type": "int"}]),
                           full=True))["version"] == 4
    new = ok(reg.register("fresh", "bytes"))["schema_id"]
    assert new not in (users, text)


# --- producers bound to a schema (Danube's semantics) ----------------------

def test_producers_pinned_minimum_latest(danube_rs, broker, reg):
    topic = "/default/rs-users"
    sid = ok(reg.register("rs-users", "avro", avro([ID])))["schema_id"]
    ok(reg.register("rs-users", "avro", avro([ID, EMAIL_OPT])))
    # A reliable producer creates the topic (a subscription made first would
    # make it a non-reliable one, which delivers only what comes after the
    # consumer's stream is open).
    lines = produce(danube_rs, broker, topic, "--name", "init", "--subject", "rs-users", "--payload-b64",
                    b64(avro_user_v2(0)))
    assert lines[-1]["acked"] == 1, lines
    c = Consumer(danube_rs, broker, topic, "s", count=4)
    cases = [  # (binding args, payload, the version the messages must carry)
        (["--pin", 1], avro_user_v1(1), 1),
        (["--min", 2], avro_user_v2(2), 2),
        (["--latest"], avro_user_v2(3, "a@b"), 2),
        ([], avro_user_v2(4), 2),  # with_schema_subject: the latest
    ]
    for i, (binding, payload, _) in enumerate(cases):
        lines = produce(danube_rs, broker, topic, "--name", f"p{i}", "--subject", "rs-users", *map(str, binding),
                        "--payload-b64", b64(payload))
        assert lines[-1]["ok"] is True and lines[-1]["acked"] == 1, lines
    msgs, done = c.messages()
    assert done["received"] == 4, done
    got = sorted(((m["payload"], m["schema_id"], m["schema_version"]) for m in msgs), key=lambda t: t[0])
    want = sorted(((p, sid, v) for _, p, v in cases), key=lambda t: t[0])
    assert got == want

    # Versions the subject does not have (also a deleted one): no producer.
    ok(reg.call("delete", "--subject", "rs-users", "--version", 1))
    for binding in (["--pin", 5], ["--min", 3], ["--pin", 1]):
        rc, lines = danube_rs.run(broker, "produce", "--topic", topic, "--name", "px", "--subject", "rs-users",
                                  *map(str, binding), "--generate", 1)
        assert rc == 1 and lines[-1]["event"] == "create_error", lines


def test_topic_is_bound_to_one_subject(danube_rs, broker, reg):
    topic = "/default/rs-bound"
    sid = ok(reg.register("rs-a", "string"))["schema_id"]
    ok(reg.register("rs-b", "string"))
    # A subject that is not registered cannot bind a topic.
    rc, lines = danube_rs.run(broker, "produce", "--topic", "/default/rs-unbound", "--subject", "rs-none",
                              "--payload", "x")
    assert rc == 1 and lines[-1]["event"] == "create_error", lines
    # Danube's broker refuses the producer (FAILED_PRECONDITION); were it
    # let through, the client's own lookup of the subject fails (NOT_FOUND).
    assert lines[-1]["code"] in ("FailedPrecondition", "NotFound") and "rs-none" in lines[-1]["message"], lines
    # The first producer with a schema binds the topic; another subject is refused.
    lines = produce(danube_rs, broker, topic, "--name", "pa", "--subject", "rs-a", "--payload", "hello")
    assert lines[-1]["acked"] == 1, lines
    rc, lines = danube_rs.run(broker, "produce", "--topic", topic, "--name", "pb", "--subject", "rs-b",
                              "--reliable", "--payload", "x")
    assert lines[-1]["event"] == "create_error", lines
    refused(lines[-1], "FailedPrecondition", "rs-a", "rs-b")
    cfg = ok(danube_rs.call(broker, "topic-config", "--topic", topic))
    assert (cfg["schema_subject"], cfg["schema_id"]) == ("rs-a", sid)
    assert cfg["validation_policy"] in ("warn", "none", "enforce")


def test_enforce_refuses_bad_payloads(danube_rs, broker, reg):
    topic = "/default/rs-json"
    schema = jsonschema({"name": NAME, "age": {"type": "integer"}}, ["name"])
    sid = ok(reg.register("rs-json", "json_schema", schema))["schema_id"]
    good1, good2 = b'{"name": "ann", "age": 3}', b'{"name": "bob"}'
    lines = produce(danube_rs, broker, topic, "--name", "p0", "--subject", "rs-json", "--payload", good1.decode())
    assert lines[-1]["acked"] == 1, lines  # the topic exists and is bound
    r = ok(danube_rs.call(broker, "configure-topic", "--topic", topic, "--subject", "rs-json", "--policy", "enforce",
                          "--payload-validation"))
    assert r["success"] is True
    cfg = ok(danube_rs.call(broker, "topic-config", "--topic", topic))
    assert (cfg["schema_subject"], cfg["validation_policy"], cfg["enable_payload_validation"], cfg["schema_id"]) == \
        ("rs-json", "enforce", True, sid)

    c = Consumer(danube_rs, broker, topic, "s", count=3, timeout=10)
    lines = produce(danube_rs, broker, topic, "--name", "p1", "--subject", "rs-json",
                    "--payload", good1.decode(), "--payload", '{"age": 4}', "--payload", "not json",
                    "--payload", '{"name": 5}', "--payload", good2.decode())
    events = [x["event"] for x in lines if x["event"] in ("ack", "send_error")]
    assert events == ["ack", "send_error", "send_error", "send_error", "ack"], lines
    for e in lines:
        if e["event"] == "send_error":
            assert e["kind"] == "status" and e["code"] not in ("Ok", "Unknown", "Internal"), e
            assert "valid" in e["message"].lower() or "schema" in e["message"].lower(), e
    # A producer without a schema reference: its messages carry no schema id.
    lines = produce(danube_rs, broker, topic, "--name", "p2", "--payload", good2.decode())
    assert [x["event"] for x in lines if x["event"] in ("ack", "send_error")] == ["send_error"], lines
    msgs, done = c.messages()
    # Only the two good messages of p1 are stored and delivered.
    assert sorted(m["payload"] for m in msgs) == sorted([good1, good2]), msgs
    assert {(m["schema_id"], m["schema_version"]) for m in msgs} == {(sid, 1)}


def test_enforce_refuses_bad_avro(danube_rs, broker, reg):
    topic = "/default/rs-avro"
    sid = ok(reg.register("rs-avro", "avro", avro([ID, {"name": "name", "type": "string"}])))["schema_id"]
    good = avro_long(7) + avro_long(3) + b"abc"
    lines = produce(danube_rs, broker, topic, "--name", "p0", "--subject", "rs-avro", "--payload-b64", b64(good))
    assert lines[-1]["acked"] == 1, lines
    ok(danube_rs.call(broker, "configure-topic", "--topic", topic, "--subject", "rs-avro", "--policy", "enforce",
                      "--payload-validation"))
    c = Consumer(danube_rs, broker, topic, "s", count=2, timeout=10)
    truncated = avro_long(7) + avro_long(30) + b"abc"  # a string longer than the bytes left
    trailing = good + b"\x00\x00"  # a valid record followed by garbage
    lines = produce(danube_rs, broker, topic, "--name", "p1", "--subject", "rs-avro", "--payload-b64", b64(good),
                    "--payload-b64", b64(truncated), "--payload-b64", b64(trailing), "--payload-b64", b64(good))
    assert [x["event"] for x in lines if x["event"] in ("ack", "send_error")] == \
        ["ack", "send_error", "send_error", "ack"], lines
    msgs, done = c.messages()
    assert [m["payload"] for m in msgs] == [good, good], msgs
    assert {(m["schema_id"], m["schema_version"]) for m in msgs} == {(sid, 1)}


def test_warn_keeps_bad_payloads(danube_rs, broker, reg):
    topic = "/default/rs-warn"
    ok(reg.register("rs-warn", "json_schema", jsonschema({"name": NAME}, ["name"])))
    lines = produce(danube_rs, broker, topic, "--name", "p0", "--subject", "rs-warn", "--payload", '{"name": "a"}')
    assert lines[-1]["acked"] == 1, lines
    ok(danube_rs.call(broker, "configure-topic", "--topic", topic, "--subject", "rs-warn", "--policy", "enforce",
                      "--payload-validation"))
    r = ok(danube_rs.call(broker, "update-policy", "--topic", topic, "--policy", "warn", "--payload-validation"))
    assert r["success"] is True
    assert ok(danube_rs.call(broker, "topic-config", "--topic", topic))["validation_policy"] == "warn"
    c = Consumer(danube_rs, broker, topic, "s", count=2, timeout=10)
    lines = produce(danube_rs, broker, topic, "--name", "p1", "--subject", "rs-warn", "--payload", '{"name": 1}',
                    "--payload", "not json")
    assert lines[-1]["acked"] == 2, lines
    msgs, done = c.messages()
    assert [m["payload"] for m in msgs] == [b'{"name": 1}', b"not json"]
    refused(danube_rs.call(broker, "update-policy", "--topic", topic, "--policy", "strict"), "InvalidArgument",
            "strict")


def test_schema_ids_survive_restart_on_stored_messages(danube_rs, start_broker, tmp_path):
    """Messages keep the schema id and version they were produced with: a
    subscriber reading them after a restart gets the same numbers."""
    b = start_broker()
    b.wait_healthy()
    reg = Registry(danube_rs, b, tmp_path)
    topic = "/default/rs-replay"
    sid = ok(reg.register("rs-replay", "string"))["schema_id"]
    lines = produce(danube_rs, b, topic, "--subject", "rs-replay", "--payload", "zero")  # a reliable topic
    assert lines[-1]["acked"] == 1, lines
    c = Consumer(danube_rs, b, topic, "s", count=0, timeout=1)  # creates the subscription at the end
    c.messages()
    lines = produce(danube_rs, b, topic, "--subject", "rs-replay", "--payload", "one", "--payload", "two",
                    "--attr", "k=v", "--attr", "trace=7")
    assert lines[-1]["acked"] == 2, lines
    assert b.stop() == 0
    b2 = start_broker(data_dir=b.data_dir)
    b2.wait_healthy()
    c = Consumer(danube_rs, b2, topic, "s", count=2, timeout=15)
    msgs, done = c.messages()
    assert [(m["payload"], m["schema_id"], m["schema_version"], m["attributes"]) for m in msgs] == \
        [(b"one", sid, 1, {"k": "v", "trace": "7"}), (b"two", sid, 1, {"k": "v", "trace": "7"})], msgs


def test_payloads_are_checked_against_their_own_version(danube_rs, broker, reg):
    """With payload validation on, a message is checked against the version
    it carries (the one its producer was bound to), not the latest."""
    topic = "/default/rs-versions"
    v1 = jsonschema({"name": NAME}, ["name"])
    v2 = jsonschema({"name": NAME, "id": {"type": "integer"}}, ["name", "id"])
    sid = ok(reg.register("rs-versions", "json_schema", v1))["schema_id"]
    ok(reg.call("set-mode", "--subject", "rs-versions", "--mode", "none"))
    ok(reg.register("rs-versions", "json_schema", v2))
    lines = produce(danube_rs, broker, topic, "--name", "p0", "--subject", "rs-versions", "--payload",
                    '{"name": "a", "id": 1}')
    assert lines[-1]["acked"] == 1, lines
    ok(danube_rs.call(broker, "configure-topic", "--topic", topic, "--subject", "rs-versions", "--policy",
                      "enforce", "--payload-validation"))
    c = Consumer(danube_rs, broker, topic, "s", count=2, timeout=10)
    v1_only = '{"name": "b"}'  # valid under v1, lacks v2's required id
    lines = produce(danube_rs, broker, topic, "--name", "p1", "--subject", "rs-versions", "--pin", "1",
                    "--payload", v1_only)
    assert lines[-1]["acked"] == 1, lines
    lines = produce(danube_rs, broker, topic, "--name", "p2", "--subject", "rs-versions", "--payload", v1_only,
                    "--payload", '{"name": "c", "id": 2}')
    assert [x["event"] for x in lines if x["event"] in ("ack", "send_error")] == ["send_error", "ack"], lines
    assert "id" in lines[1]["message"], lines
    msgs, done = c.messages()
    assert [(m["payload"], m["schema_id"], m["schema_version"]) for m in msgs] == \
        [(v1_only.encode(), sid, 1), (b'{"name": "c", "id": 2}', sid, 2)], msgs


@pytest.mark.parametrize("type_,good,bad", [
    ("string", ["héllo".encode()], [b"\xff\xfe"]),
    ("number", [(7).to_bytes(8, "little"), (7).to_bytes(4, "little")], [b"\x01\x02\x03"]),
])
def test_untyped_payload_validation(danube_rs, broker, reg, type_, good, bad):
    topic = f"/default/rs-{type_}"
    ok(reg.register(f"rs-{type_}", type_))
    lines = produce(danube_rs, broker, topic, "--name", "p0", "--subject", f"rs-{type_}", "--payload-b64",
                    b64(good[0]))
    assert lines[-1]["acked"] == 1, lines
    ok(danube_rs.call(broker, "configure-topic", "--topic", topic, "--subject", f"rs-{type_}", "--policy",
                      "enforce", "--payload-validation"))
    c = Consumer(danube_rs, broker, topic, "s", count=len(good), timeout=10)
    args = [a for p in bad + good for a in ("--payload-b64", b64(p))]
    lines = produce(danube_rs, broker, topic, "--name", "p1", "--subject", f"rs-{type_}", *args)
    assert [x["event"] for x in lines if x["event"] in ("ack", "send_error")] == \
        ["send_error"] * len(bad) + ["ack"] * len(good), lines
    msgs, done = c.messages()
    assert [m["payload"] for m in msgs] == good


def test_topic_schema_config_calls(danube_rs, broker, reg):
    topic = "/default/rs-cfg"
    sid = ok(reg.register("rs-cfg", "string"))["schema_id"]
    # A topic the broker does not have, a subject the registry does not have, a policy that does not exist.
    refused(danube_rs.call(broker, "configure-topic", "--topic", "/default/rs-nowhere", "--subject", "rs-cfg",
                           "--policy", "warn"), "NotFound", "rs-nowhere")
    refused(danube_rs.call(broker, "topic-config", "--topic", "/default/rs-nowhere"), "NotFound", "rs-nowhere")
    lines = produce(danube_rs, broker, topic, "--name", "p0", "--payload", "x")  # the topic, without a subject
    assert lines[-1]["acked"] == 1, lines
    cfg = ok(danube_rs.call(broker, "topic-config", "--topic", topic))
    assert (cfg["schema_subject"], cfg["validation_policy"], cfg["schema_id"]) == ("", "warn", 0)
    refused(danube_rs.call(broker, "update-policy", "--topic", topic, "--policy", "enforce"), "FailedPrecondition")
    refused(danube_rs.call(broker, "configure-topic", "--topic", topic, "--subject", "rs-nobody", "--policy",
                           "warn"), "NotFound", "rs-nobody")
    refused(danube_rs.call(broker, "configure-topic", "--topic", topic, "--subject", "rs-cfg", "--policy",
                           "sometimes"), "InvalidArgument", "sometimes")
    ok(danube_rs.call(broker, "configure-topic", "--topic", topic, "--subject", "rs-cfg", "--policy", "ENFORCE"))
    cfg = ok(danube_rs.call(broker, "topic-config", "--topic", topic))
    assert (cfg["schema_subject"], cfg["validation_policy"], cfg["enable_payload_validation"], cfg["schema_id"]) \
        == ("rs-cfg", "enforce", False, sid)


def test_topic_schema_config_survives_restart(danube_rs, start_broker, tmp_path):
    b = start_broker()
    b.wait_healthy()
    reg = Registry(danube_rs, b, tmp_path)
    topic = "/default/rs-keep"
    sid = ok(reg.register("rs-keep", "json_schema", jsonschema({"name": NAME}, ["name"])))["schema_id"]
    lines = produce(danube_rs, b, topic, "--subject", "rs-keep", "--payload", '{"name": "a"}')
    assert lines[-1]["acked"] == 1, lines
    ok(danube_rs.call(b, "configure-topic", "--topic", topic, "--subject", "rs-keep", "--policy", "enforce",
                      "--payload-validation"))
    assert b.stop() == 0
    b2 = start_broker(data_dir=b.data_dir)
    b2.wait_healthy()
    cfg = ok(danube_rs.call(b2, "topic-config", "--topic", topic))
    assert (cfg["schema_subject"], cfg["validation_policy"], cfg["enable_payload_validation"], cfg["schema_id"]) \
        == ("rs-keep", "enforce", True, sid)
    lines = produce(danube_rs, b2, topic, "--subject", "rs-keep", "--payload", '{"nom": 1}', "--payload",
                    '{"name": "b"}')
    assert [x["event"] for x in lines if x["event"] in ("ack", "send_error")] == ["send_error", "ack"], lines
    # Another subject is still refused after the restart.
    ok(danube_rs.call(b2, "register", "--subject", "rs-other", "--type", "string"))
    rc, lines = danube_rs.run(b2, "produce", "--topic", topic, "--name", "px", "--subject", "rs-other",
                              "--reliable", "--payload", "x")
    refused(lines[-1], "FailedPrecondition", "rs-keep")


def test_partitioned_producer_binds_every_partition(danube_rs, broker, reg):
    """The client makes one producer per partition (`/ns/t-part-i`), each with
    the schema reference: every partition is bound and stamps its messages."""
    topic = "/default/rs-parts"
    sid = ok(reg.register("rs-parts", "string"))["schema_id"]
    lines = produce(danube_rs, broker, topic, "--name", "p0", "--partitions", 3, "--subject", "rs-parts",
                    "--generate", 3)
    assert lines[-1]["acked"] == 3, lines
    for i in range(3):
        cfg = ok(danube_rs.call(broker, "topic-config", "--topic", f"{topic}-part-{i}"))
        assert (cfg["schema_subject"], cfg["schema_id"]) == ("rs-parts", sid), (i, cfg)
    c = Consumer(danube_rs, broker, topic, "s", count=6, timeout=15)
    lines = produce(danube_rs, broker, topic, "--name", "p1", "--partitions", 3, "--subject", "rs-parts",
                    "--generate", 6)
    assert lines[-1]["acked"] == 6, lines
    msgs, done = c.messages()
    assert sorted(m["payload"] for m in msgs) == sorted(f"msg-{i}".encode() for i in range(6)), msgs
    assert {m["topic"] for m in msgs} == {f"{topic}-part-{i}" for i in range(3)}
    assert {(m["schema_id"], m["schema_version"]) for m in msgs} == {(sid, 1)}


def test_hostile_payloads_under_enforce(danube_rs, broker, reg):
    """Deeply nested and large JSON under an enforcing JSON Schema: refused or
    stored as the schema says, with a clear error, and the broker keeps serving."""
    topic = "/default/rs-hostile"
    schema = json.dumps({"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}}}})
    ok(reg.register("rs-hostile", "json_schema", schema))
    lines = produce(danube_rs, broker, topic, "--name", "p0", "--subject", "rs-hostile", "--payload", "{}")
    assert lines[-1]["acked"] == 1, lines
    ok(danube_rs.call(broker, "configure-topic", "--topic", topic, "--subject", "rs-hostile", "--policy", "enforce",
                      "--payload-validation"))
    deep = '{"x": ' + "[" * 5000 + "]" * 5000 + "}"
    big_ok = json.dumps({"tags": [f"t{i}" for i in range(50000)]})
    big_bad = json.dumps({"tags": [f"t{i}" for i in range(50000)] + [1]})
    payloads = broker.data_dir.parent / "hostile.txt"
    payloads.write_text("\n".join([deep, big_bad, big_ok]) + "\n")
    c = Consumer(danube_rs, broker, topic, "s", count=2, timeout=15)
    lines = produce(danube_rs, broker, topic, "--name", "p1", "--subject", "rs-hostile", "--file", str(payloads),
                    "--payload", '{"tags": ["a"]}')
    events = [x for x in lines if x["event"] in ("ack", "send_error")]
    # --payload first, then the file's lines.
    assert [x["event"] for x in events] == ["ack", "send_error", "send_error", "ack"], lines
    assert "deep" in events[1]["message"].lower() or "nest" in events[1]["message"].lower(), events[1]
    assert "tags" in events[2]["message"], events[2]
    msgs, done = c.messages()
    assert [m["payload"] for m in msgs] == [b'{"tags": ["a"]}', big_ok.encode()]
