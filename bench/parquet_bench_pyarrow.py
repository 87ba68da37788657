"""The pyarrow half of parquet_bench: times pyarrow writing and reading the same
rows the C++ side wrote, with the same codec. Prints one JSON object."""
import argparse
import json
import os
import tempfile
import time

import pyarrow.parquet as pq

ap = argparse.ArgumentParser()
ap.add_argument("--file", required=True, help="the file Frazil wrote (its rows are the input)")
ap.add_argument("--codec", required=True)
ap.add_argument("--level", type=int, default=None)
ap.add_argument("--repeat", type=int, default=3)
a = ap.parse_args()

table = pq.read_table(a.file)  # untimed: the rows, in Arrow's memory
codec = {"none": "NONE", "uncompressed": "NONE"}.get(a.codec, a.codec.upper())
level = a.level if codec == "ZSTD" else None
out = {}
with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(a.file))) as tmp:
    path = os.path.join(tmp, "pyarrow.parquet")
    best = None
    for _ in range(a.repeat):
        if os.path.exists(path):
            os.unlink(path)
        t0 = time.perf_counter()
        pq.write_table(table, path, compression=codec, compression_level=level)
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    out["write_seconds"] = best
    out["size"] = os.path.getsize(path)
    for name, f in (("read_own", path), ("read_frazil", a.file)):
        for threads in (False, True):
            best = None
            for _ in range(a.repeat):
                t0 = time.perf_counter()
                pq.read_table(f, use_threads=threads)
                dt = time.perf_counter() - t0
                best = dt if best is None else min(best, dt)
            out[f"{name}_seconds_{'threads' if threads else '1thread'}"] = best
print(json.dumps(out))
