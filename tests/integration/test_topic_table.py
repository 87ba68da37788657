"""Issue 6 groundwork: messages produced through the Danube SDK into
`frazil serve` are committed from the topic WAL into the topic's Iceberg
table by TopicWriter (driven by catalog_tool), and PyIceberg (SqlCatalog
`frazil` on DATA_DIR/catalog.db) and DuckDB read them back."""
import asyncio
import json
import subprocess

import duckdb
from danube import DanubeClientBuilder, DispatchStrategy
from pyiceberg.catalog.sql import SqlCatalog

from test_iceberg_tables import TOOL


def test_produced_messages_become_table_rows(start_broker, tmp_path):
    data = tmp_path / "data"
    b = start_broker(data_dir=data)
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
    assert b.stop() == 0

    warehouse = health["catalog"]["warehouse"]
    out = subprocess.run([TOOL, "--db", str(data / "catalog.db"), "--warehouse", warehouse, "topic-commit",
                          "default.orders", "--wal", str(data / "wal" / "default" / "orders"), "--max-rows", "200"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"committed_offset": total, "batches": 3}

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
    assert [s.summary["frazil.offsets"] for s in table.snapshots()] == ["0-199", "200-399", "400-499"]
    assert table.properties["frazil.committed-offset"] == str(total)

    files = [f.file.file_path.removeprefix("file://") for f in table.scan().plan_files()]
    con = duckdb.connect()
    n, lo, hi = con.execute(f"SELECT count(*), min(\"offset\"), max(\"offset\") FROM read_parquet({files})").fetchone()
    assert (n, lo, hi) == (total, 0, total - 1)
