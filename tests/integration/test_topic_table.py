"""Messages produced through the Danube SDK into `frazil serve` are
committed from the topic WAL into the topic's Iceberg table by the broker's
commit loop, and PyIceberg (SqlCatalog `frazil` on DATA_DIR/catalog.db) and
DuckDB read them back; a second writer (catalog_tool) finds nothing left to
commit."""
import asyncio
import json
import subprocess
import time

import duckdb
from danube import DanubeClientBuilder, DispatchStrategy
from pyiceberg.catalog.sql import SqlCatalog

from conftest import http_get
from test_iceberg_tables import TOOL


def test_produced_messages_become_table_rows(start_broker, tmp_path):
    data = tmp_path / "data"
    config = tmp_path / "frazil.yaml"
    config.write_text("storage:\n  max_rows: 200\n  flush_interval_ms: 200\n")
    b = start_broker(data_dir=data, extra_args=["--config", str(config)])
    health = b.wait_healthy()
    total = 500

    async def produce():
        client = await DanubeClientBuilder().service_url(f"http://127.0.0.1:{b.listen_port}").build()
        p = (client.new_producer().with_topic("/default/orders").with_name("shop")
             .with_dispatch_strategy(DispatchStrategy.RELIABLE).build())
        await p.create()
        for i in range(total):
            if i % 2:
                await p.send_with_key(f"order {i}".encode(), {"n": str(i)}, f"customer-{i % 7}")
            else:
                await p.send(f"order {i}".encode(), {"n": str(i)})
    asyncio.run(produce())
    deadline = time.time() + 30
    while time.time() < deadline:
        status, body = http_get(b.http_port, "/admin/topics/default/orders")
        if json.loads(body)["table"]["committed_offset"] == total:
            break
        time.sleep(0.1)
    assert json.loads(body)["table"]["committed_offset"] == total, body
    assert b.stop() == 0

    # Another writer on the same WAL and table has nothing left to commit.
    warehouse = health["catalog"]["warehouse"]
    out = subprocess.run([TOOL, "--db", str(data / "catalog.db"), "--warehouse", warehouse, "topic-commit",
                          "default.orders", "--wal", str(data / "wal" / "default" / "orders"), "--max-rows", "200"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"committed_offset": total, "batches": 0}

    table = SqlCatalog("frazil", uri=f"sqlite:///{data / 'catalog.db'}", warehouse=warehouse).load_table(
        "default.orders")
    arrow = table.scan().to_arrow().sort_by("offset")
    assert arrow["offset"].to_pylist() == list(range(total))
    rows = arrow.to_pylist()
    for i in (0, 1, 499):
        assert rows[i]["payload"] == f"order {i}".encode()
        assert rows[i]["attributes"] == [("n", str(i))]
        assert rows[i]["routing_key"] == (f"customer-{i % 7}" if i % 2 else None)
        assert rows[i]["producer_name"] == "shop"
    # Commits cover consecutive offset ranges of at most max_rows records.
    ranges = [tuple(map(int, s.summary["frazil.offsets"].split("-"))) for s in table.snapshots()]
    assert ranges[0][0] == 0 and ranges[-1][1] == total - 1
    for (a, b_), (c, _) in zip(ranges, ranges[1:]):
        assert c == b_ + 1
    assert all(hi - lo + 1 <= 200 for lo, hi in ranges)
    assert table.properties["frazil.committed-offset"] == str(total)
    # Sort orders as Java engines expect them: the unsorted order 0 is listed
    # besides the default offset order 1, which the data files record.
    assert table.metadata.default_sort_order_id == 1
    assert {o.order_id: len(o.fields) for o in table.metadata.sort_orders} == {0: 0, 1: 1}
    assert {f.file.sort_order_id for f in table.scan().plan_files()} == {1}

    files = [f.file.file_path.removeprefix("file://") for f in table.scan().plan_files()]
    con = duckdb.connect()
    n, lo, hi = con.execute(f"SELECT count(*), min(\"offset\"), max(\"offset\") FROM read_parquet({files})").fetchone()
    assert (n, lo, hi) == (total, 0, total - 1)
