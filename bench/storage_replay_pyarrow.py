"""The pyarrow half of `broker_bench --replay`: times pyarrow.parquet.read_table
over the data files of a topic table's current snapshot (the files the broker
replayed from). Prints one JSON object."""
import argparse
import json
import time

import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.catalog.sql import SqlCatalog

ap = argparse.ArgumentParser()
ap.add_argument("--data-dir", required=True, help="the broker's --data-dir")
ap.add_argument("--table", required=True, help="namespace.table, e.g. bench.replay")
ap.add_argument("--repeat", type=int, default=3)
a = ap.parse_args()

catalog = SqlCatalog("frazil", uri=f"sqlite:///{a.data_dir}/catalog.db", warehouse=f"file://{a.data_dir}/warehouse")
table = catalog.load_table(a.table)  # untimed: finding the files
tasks = list(table.scan().plan_files())
files = [t.file.file_path.removeprefix("file://") for t in tasks]
out = {
    "files": len(files),
    "file_bytes": sum(t.file.file_size_in_bytes for t in tasks),
    "repeat": a.repeat,
    "committed_offset": int(table.properties.get("frazil.committed-offset", "0")),
}
for threads in (True, False):
    best = None
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        t = pq.read_table(files, use_threads=threads, partitioning=None)
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    out["seconds_threads" if threads else "seconds_1thread"] = best
out["rows"] = t.num_rows
out["payload_bytes"] = pc.sum(pc.binary_length(t["payload"])).as_py()
print(json.dumps(out))
