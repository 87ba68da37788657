"""Writes small seed files for parquet_reader_fuzz: pyarrow's and ours, across
codecs, encodings and page versions. Run from the repo root:
    .venv/bin/python tests/fuzz/make_parquet_corpus.py"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import pyarrow.parquet as pq

sys.path.insert(0, "tests/integration")
from pq_values import arrow_table  # noqa: E402
import test_parquet_nested as nested  # noqa: E402

TOOL = os.environ.get("FRAZIL_PARQUET_TOOL", "build/parquet_tool")

OUT = pathlib.Path("tests/fuzz/corpus/parquet_reader")
FIELDS = [
    {"name": "o", "id": 1, "required": True, "type": "long"},
    {"name": "s", "id": 2, "type": "string"},
    {"name": "m", "id": 3, "shape": "map", "type": "string", "key_id": 5, "value_id": 6},
    {"name": "l", "id": 4, "shape": "list", "type": "int", "element_id": 7},
    {"name": "d", "id": 8, "type": "decimal", "precision": 9, "scale": 2},
    {"name": "b", "id": 9, "type": "boolean"},
]
ROWS = [[i, [None, "a", "bb"][i % 3], [["k", "v"]] if i % 2 else [], [i, None] if i % 4 else None, str(i * 7), i % 5 == 0]
        for i in range(12)]

OUT.mkdir(parents=True, exist_ok=True)
table = arrow_table(FIELDS, ROWS)
for name, opts in {"pa-snappy": dict(compression="SNAPPY"), "pa-v2": dict(compression="NONE", data_page_version="2.0"),
                   "pa-plain-zstd": dict(compression="ZSTD", use_dictionary=False),
                   "pa-delta": dict(compression="NONE", use_dictionary=False, column_encoding={"o": "DELTA_BINARY_PACKED"})}.items():
    pq.write_table(table, OUT / f"{name}.parquet", **opts)
with tempfile.TemporaryDirectory() as tmp:
    for codec in ("zstd", "snappy", "uncompressed"):
        spec = pathlib.Path(tmp) / "spec.json"
        spec.write_text(json.dumps({"fields": FIELDS, "rows": ROWS, "options": {"codec": codec, "page_bytes": 64}}))
        subprocess.run([TOOL, "write", str(spec), str(OUT / f"frazil-{codec}.parquet")], check=True,
                       stdout=subprocess.DEVNULL)
    # Nested columns (structs, lists and maps in one another), ours and pyarrow's.
    nested_rows = nested.sample_rows(8, 1)
    spec.write_text(json.dumps({"fields": nested.FIELDS, "rows": nested_rows, "options": {"page_bytes": 64}}))
    subprocess.run([TOOL, "write", str(spec), str(OUT / "frazil-nested.parquet")], check=True,
                   stdout=subprocess.DEVNULL)
    pq.write_table(nested.arrow_table(nested_rows), OUT / "pa-nested.parquet", compression="NONE")
for p in sorted(OUT.iterdir()):
    print(p, p.stat().st_size)
