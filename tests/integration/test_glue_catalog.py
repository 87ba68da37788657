"""`frazil serve` with `catalog: type: glue` against moto (an AWS emulator
from PyPI, in server mode on loopback) as the Glue endpoint: the topic's
table is a Glue table committed through UpdateTable, PyIceberg's
GlueCatalog on the same moto reads every message exactly once, and a
restarted broker keeps committing to the same table. Start-up errors
(no region, no credentials, refused credentials, nothing listening) stop
the broker at once with a message saying what is wrong.
moto does not enforce UpdateTable's VersionId, so concurrent commits are
not tested here (tests/glue covers our conflict logic)."""
import asyncio
import time

import pytest
from danube import DanubeClientBuilder, DispatchStrategy

from conftest import free_port
from glue_helpers import MotoServer, glue_catalog_yaml, pyiceberg_glue_catalog
from test_topic_storage import describe


def write_config(tmp_path, catalog_yaml):
    path = tmp_path / "frazil.yaml"
    path.write_text(catalog_yaml + "storage:\n  flush_interval_ms: 200\n")
    return path


async def produce(port, topic, n, start=0):
    client = await DanubeClientBuilder().service_url(f"http://127.0.0.1:{port}").build()
    p = (client.new_producer().with_topic(topic).with_name("p")
         .with_dispatch_strategy(DispatchStrategy.RELIABLE).build())
    await p.create()
    offsets = await asyncio.gather(*[p.send(f"m{i}".encode(), None) for i in range(start, start + n)])
    await p.close()
    return offsets


@pytest.fixture
def no_aws_environment(monkeypatch, tmp_path):
    """No AWS variables and no profile files: only the config says anything."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
                 "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))


def test_topic_table_in_glue_read_by_pyiceberg_and_kept_across_a_restart(tmp_path, moto_glue, start_broker,
                                                                        no_aws_environment):
    config = write_config(tmp_path, glue_catalog_yaml(moto_glue.endpoint))
    b = start_broker(extra_args=["--config", str(config)])
    health = b.wait_healthy(timeout=30)
    assert health["catalog"]["type"] == "glue"
    assert health["catalog"]["uri"] == moto_glue.endpoint
    offsets = asyncio.run(produce(b.listen_port, "/default/events", 300))
    assert sorted(offsets) == list(range(300))
    # `frazil topics describe` (the admin API) names where the table is recorded
    assert describe(b, "/default/events")["table"]["catalog"] == {"type": "glue", "name": "frazil",
                                                                  "uri": moto_glue.endpoint}
    assert b.stop() == 0  # a clean stop commits what the WAL holds

    py = pyiceberg_glue_catalog(moto_glue.endpoint)
    table = py.load_table("default.events")
    assert table.properties["frazil.committed-offset"] == "300"
    rows = table.scan().to_arrow().sort_by("offset")
    assert rows["offset"].to_pylist() == list(range(300))  # every message, once
    assert sorted(rows["payload"].to_pylist()) == sorted(f"m{i}".encode() for i in range(300))
    first_uuid, first_metadata = table.metadata.table_uuid, table.metadata_location

    # A new broker process on the same data directory finds the table in
    # Glue and commits on it: same table, new metadata, offsets go on.
    b2 = start_broker(extra_args=["--config", str(config)])
    b2.wait_healthy(timeout=30)
    more = asyncio.run(produce(b2.listen_port, "/default/events", 200, start=300))
    assert sorted(more) == list(range(300, 500))
    assert b2.stop() == 0

    table = py.load_table("default.events")
    assert table.metadata.table_uuid == first_uuid
    assert table.metadata_location != first_metadata
    assert table.properties["frazil.committed-offset"] == "500"
    rows = table.scan().to_arrow().sort_by("offset")
    assert rows["offset"].to_pylist() == list(range(500))
    assert sorted(rows["payload"].to_pylist()) == sorted(f"m{i}".encode() for i in range(500))
    assert [t[1] for t in py.list_tables("default")] == ["events"]


def start_and_fail(start_broker, config):
    b = start_broker(extra_args=["--config", str(config)])
    start = time.monotonic()
    rc = b.proc.wait(timeout=30)
    assert time.monotonic() - start < 20, "the broker took too long to give up"
    return rc, b.log()


def test_no_region_is_a_clear_error_at_start(tmp_path, start_broker, no_aws_environment):
    config = write_config(tmp_path, glue_catalog_yaml(f"http://127.0.0.1:{free_port()}", region=""))
    rc, log = start_and_fail(start_broker, config)
    assert rc == 2, log
    assert "glue catalog: no region: set catalog.region" in log, log


def test_no_credentials_is_a_clear_error_at_start(tmp_path, start_broker, no_aws_environment):
    config = write_config(tmp_path, glue_catalog_yaml(f"http://127.0.0.1:{free_port()}", keys=False))
    rc, log = start_and_fail(start_broker, config)
    assert rc == 2, log
    assert "catalog: no credentials: set catalog.access_key_id" in log, log


def test_unreachable_glue_endpoint_is_a_clear_error_at_start(tmp_path, start_broker, no_aws_environment):
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    config = write_config(tmp_path, glue_catalog_yaml(endpoint))
    rc, log = start_and_fail(start_broker, config)
    assert rc == 1, log
    assert f"cannot open Glue catalog at {endpoint}" in log, log


def test_refused_credentials_are_a_clear_error_at_start(tmp_path, start_broker, no_aws_environment):
    # INITIAL_NO_AUTH_ACTION_COUNT=0: moto checks every access key against
    # its IAM users, and ours is unknown.
    moto = MotoServer(tmp_path / "moto-auth.log", free_port(), {"INITIAL_NO_AUTH_ACTION_COUNT": "0"})
    try:
        config = write_config(tmp_path, glue_catalog_yaml(moto.endpoint))
        rc, log = start_and_fail(start_broker, config)
    finally:
        moto.stop()
    assert rc == 1, log
    assert f"cannot open Glue catalog at {moto.endpoint}" in log, log
    assert "InvalidClientTokenId" in log, log
