"""Reference for catalog_bench: PyIceberg committing the workload Frazil
commits, to a table of the same catalog server, right after Frazil's run:
N fast appends, one after another, each of one data file entry (100 rows of
offsets, as Frazil's: the entry is made up, no data file is written), with
the snapshot summary property `frazil.offsets`. Each commit writes a
manifest and a manifest list, then commits through the catalog (sql: a new
metadata file and a conditional UPDATE; rest: the server writes the
metadata; glue: a new metadata file and UpdateTable), from the table the
previous commit returned, as Frazil's loop does.

  catalog_bench_pyiceberg.py --catalog sql|rest|glue --uri URI [--warehouse W] --commits N
"""
import argparse
import struct
import sys
import time
import uuid

import pyiceberg
from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
from pyiceberg.schema import Schema
from pyiceberg.typedef import Record
from pyiceberg.types import BinaryType, LongType, NestedField

ap = argparse.ArgumentParser()
ap.add_argument("--catalog", choices=("sql", "rest", "glue"), required=True)
ap.add_argument("--uri", required=True, help="sql: sqlite:///PATH; rest: http://HOST:PORT; glue: the endpoint")
ap.add_argument("--warehouse", default=None)
ap.add_argument("--commits", type=int, required=True)
args = ap.parse_args()

if args.catalog == "sql":
    from pyiceberg.catalog.sql import SqlCatalog
    cat = SqlCatalog("frazil", uri=args.uri, warehouse=args.warehouse)
elif args.catalog == "rest":
    from pyiceberg.catalog.rest import RestCatalog
    cat = RestCatalog("rest", uri=args.uri)
else:
    from pyiceberg.catalog.glue import GlueCatalog
    cat = GlueCatalog("glue", **{"glue.endpoint": args.uri, "glue.region": "us-east-1",
                                 "glue.access-key-id": "testing", "glue.secret-access-key": "testing",
                                 "warehouse": args.warehouse})

schema = Schema(NestedField(1, "offset", LongType(), required=True), NestedField(2, "payload", BinaryType()))
table = cat.create_table("bench.pyiceberg", schema=schema)


def entry(lo, hi):
    """The data file entry Frazil's benchmark commits (OffsetFile in catalog_bench.cc)."""
    return DataFile.from_args(
        content=DataFileContent.DATA, file_path=f"{table.location()}/data/{uuid.uuid4()}.parquet",
        file_format=FileFormat.PARQUET, partition=Record(), record_count=hi - lo + 1, file_size_in_bytes=1 << 20,
        column_sizes={1: 1000}, value_counts={1: hi - lo + 1}, null_value_counts={1: 0}, nan_value_counts={},
        lower_bounds={1: struct.pack("<q", lo)}, upper_bounds={1: struct.pack("<q", hi)}, split_offsets=[4],
        sort_order_id=None, spec_id=table.metadata.default_spec_id, equality_ids=None, key_metadata=None)


lat = []
start = time.perf_counter()
for i in range(args.commits):
    lo, hi = i * 100, i * 100 + 99
    t0 = time.perf_counter()
    with table.transaction() as tx:
        with tx.update_snapshot(snapshot_properties={"frazil.offsets": f"{lo}-{hi}"}).fast_append() as append:
            append.append_data_file(entry(lo, hi))
    lat.append((time.perf_counter() - t0) * 1000)
elapsed = time.perf_counter() - start
snapshots = len(table.metadata.snapshots)
if snapshots != args.commits:
    sys.exit(f"pyiceberg: {snapshots} snapshots after {args.commits} commits")
lat.sort()
print(f"{args.catalog}: PyIceberg {pyiceberg.__version__} (reference), {args.commits} fast appends on one table: "
      f"p50 {lat[min(len(lat) - 1, len(lat) // 2)]:.2f} ms, p99 {lat[min(len(lat) - 1, int(0.99 * len(lat)))]:.2f} ms, "
      f"{args.commits / elapsed:.0f} commits/s", flush=True)
