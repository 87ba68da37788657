"""`frazil serve` with `catalog: type: rest` against each REST catalog
server: Apache Iceberg's REST catalog server (build/tools/frazil-rest-catalog,
from scripts/setup-rest-catalog.sh; FRAZIL_REST_CATALOG_BIN overrides), its
tables on the local disk, and Project Nessie (build/tools/frazil-nessie, from
scripts/setup-nessie.sh; FRAZIL_NESSIE_BIN overrides), its tables in a
bucket of the S3 test server. The topic's table is created and committed
through the REST protocol, and PyIceberg's RestCatalog on the same server
reads every message exactly once. Skipped, saying why, when a server is not
installed."""
import asyncio
import time

import pytest
from danube import DanubeClientBuilder, DispatchStrategy

from catalogs import NessieServer, RestServer
from conftest import free_port, run_frazil
from test_topic_storage import describe


@pytest.fixture(params=["iceberg_fixture", "nessie"])
def rest_server(request, tmp_path):
    """Each REST catalog server in turn (catalogs.py): `.uri`, `.open()`
    (PyIceberg's catalog on it), `.broker_yaml` (what a broker needs besides
    its catalog section: Nessie's tables are on the S3 test server)."""
    if request.param == "nessie":
        server = NessieServer(tmp_path / "nessie.log", free_port(), request.getfixturevalue("s3_server"))
    else:
        server = RestServer(tmp_path / "rest.log", free_port(), tmp_path / "rest-warehouse")
    yield server
    server.stop()


def write_config(tmp_path, server, extra=""):
    uri = server if isinstance(server, str) else server.uri
    more = "" if isinstance(server, str) else server.broker_yaml
    path = tmp_path / "frazil.yaml"
    path.write_text(f"catalog:\n  type: rest\n  uri: {uri}\n{extra}storage:\n  flush_interval_ms: 200\n{more}")
    return path


async def produce(port, topic, n):
    client = await DanubeClientBuilder().service_url(f"http://127.0.0.1:{port}").build()
    p = (client.new_producer().with_topic(topic).with_name("p")
         .with_dispatch_strategy(DispatchStrategy.RELIABLE).build())
    await p.create()
    offsets = await asyncio.gather(*[p.send(f"m{i}".encode(), None) for i in range(n)])
    await p.close()
    return offsets


def test_topic_table_through_the_rest_catalog_read_by_pyiceberg(tmp_path, rest_server, start_broker):
    """Nessie assigns the schema's field ids its own way (depth first: the
    attributes map's key and value get 7 and 8, payload 9), which the
    broker, whose columns have fixed ids, cannot write: it says so and
    commits nothing, and the table holds no file of mismatched ids."""
    uri = rest_server.uri
    # OAuth2 client credentials where the server issues tokens: Nessie does
    # not (its /v1/oauth/tokens answers 501; its tokens come from an OIDC
    # server, none here).
    credential = "" if rest_server.kind == "nessie" else "  credential: frazil:secret\n"
    config = write_config(tmp_path, rest_server, credential)
    b = start_broker(extra_args=["--config", str(config)])
    health = b.wait_healthy(timeout=30)
    assert health["catalog"]["type"] == "rest"
    assert health["catalog"]["uri"] == uri
    offsets = asyncio.run(produce(b.listen_port, "/default/events", 300))
    assert sorted(offsets) == list(range(300))
    # `frazil topics describe` (the admin API) names where the table is recorded
    assert describe(b, "/default/events")["table"]["catalog"] == {"type": "rest", "name": "frazil", "uri": uri}
    assert b.stop() == 0  # a clean stop commits what the WAL holds

    py = rest_server.open()
    table = py.load_table("default.events")
    if rest_server.kind == "nessie":
        assert "topic table column attributes (field id 6) has a type the broker cannot write" in b.log(), b.log()
        assert [f.field_id for f in table.schema().fields][-3:] == [9, 10, 11]  # payload, schema_id, _version
        assert table.current_snapshot() is None and "frazil.committed-offset" not in table.properties
        return
    assert table.properties["frazil.committed-offset"] == "300"
    rows = table.scan().to_arrow().sort_by("offset")
    assert rows["offset"].to_pylist() == list(range(300))  # every message, once
    assert sorted(rows["payload"].to_pylist()) == sorted(f"m{i}".encode() for i in range(300))


def test_unreachable_rest_catalog_is_a_clear_error_at_start(tmp_path, start_broker):
    config = write_config(tmp_path, f"http://127.0.0.1:{free_port()}")
    b = start_broker(extra_args=["--config", str(config)])
    start = time.monotonic()
    rc = b.proc.wait(timeout=20)
    assert rc != 0
    assert time.monotonic() - start < 15
    assert "cannot open REST catalog" in b.log(), b.log()


def test_catalog_flags_choose_the_catalog_and_are_checked(tmp_path, rest_server, start_broker):
    """`frazil serve --catalog-type rest --catalog-uri URI` without a catalog
    section in any file (Nessie's tables need the file's `s3:` section);
    flags override the file's catalog section and get its checks."""
    uri = rest_server.uri
    args = ["--catalog-type", "rest", "--catalog-uri", uri, "--catalog-name", "flagged"]
    if rest_server.broker_yaml:
        s3_only = tmp_path / "s3-only.yaml"
        s3_only.write_text(rest_server.broker_yaml)
        args += ["--config", str(s3_only)]
    b = start_broker(extra_args=args)
    health = b.wait_healthy(timeout=30)
    assert health["catalog"]["type"] == "rest" and health["catalog"]["uri"] == uri
    assert health["catalog"]["name"] == "flagged"
    offsets = asyncio.run(produce(b.listen_port, "/default/flags", 20))
    assert sorted(offsets) == list(range(20))
    assert describe(b, "/default/flags")["table"]["catalog"] == {"type": "rest", "name": "flagged", "uri": uri}
    assert b.stop() == 0

    data = str(tmp_path / "unused")
    for args, message in [(["--catalog-type", "hive"], "catalog.type must be sql, rest or glue (not 'hive')"),
                          (["--catalog-type", "rest"], "catalog.uri is required for type rest")]:
        rc, out = run_frazil("serve", "--data-dir", data, *args)
        assert rc == 2 and message in out, (args, rc, out)
    # the file's section is overridden by the flags
    config = write_config(tmp_path, "http://127.0.0.1:1")
    rc, out = run_frazil("serve", "--data-dir", data, "--config", str(config), "--catalog-type", "bogus")
    assert rc == 2 and "not 'bogus'" in out, out
