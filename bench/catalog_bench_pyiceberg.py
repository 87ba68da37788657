"""Reference for catalog_bench: PyIceberg's SqlCatalog committing appends of
a one-row table, one after another, to a table in the same SQLite catalog.
The figures include writing a one-row Parquet file, which Frazil's run does
not, so they bound PyIceberg's commit cost from above."""
import statistics
import sys
import time

import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.schema import Schema
from pyiceberg.types import BinaryType, LongType, NestedField

directory, commits = sys.argv[1], int(sys.argv[2])
cat = SqlCatalog("frazil", uri=f"sqlite:///{directory}/catalog.db", warehouse=f"file://{directory}/warehouse")
schema = Schema(NestedField(1, "offset", LongType(), required=True), NestedField(2, "payload", BinaryType()))
table = cat.create_table("bench.pyiceberg", schema=schema)
arrow_schema = table.schema().as_arrow()
lat = []
start = time.perf_counter()
for i in range(commits):
    df = pa.table({"offset": pa.array([i], pa.int64()), "payload": pa.array([b"x"])}).cast(arrow_schema)
    t0 = time.perf_counter()
    table.append(df)
    lat.append((time.perf_counter() - t0) * 1000)
elapsed = time.perf_counter() - start
lat.sort()
print(f"pyiceberg (reference): {commits} appends on one table: p50 {statistics.median(lat):.2f} ms, "
      f"p99 {lat[min(len(lat) - 1, int(0.99 * len(lat)))]:.2f} ms, {commits / elapsed:.0f} commits/s "
      f"(each also writes a one-row Parquet file)")
