"""Frazil's Parquet writer and reader against pyarrow and DuckDB."""
import datetime
import decimal
import json
import os
import pathlib
import random
import struct
import subprocess

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import REPO
from pq_values import WIDE, arrow_table, canonical, rows_from_table

TOOL = os.environ.get("FRAZIL_PARQUET_TOOL", str(REPO / "build" / "parquet_tool"))

# Every type and shape the writer supports, nulls in every nullable column.
FIELDS = [
    {"name": "offset", "id": 1, "required": True, "type": "long"},
    {"name": "publish_time", "id": 2, "required": True, "type": "timestamptz"},
    {"name": "local_time", "id": 3, "type": "timestamp"},
    {"name": "producer", "id": 4, "type": "string"},
    {"name": "payload", "id": 5, "type": "binary"},
    {"name": "attributes", "id": 6, "shape": "map", "type": "string", "key_id": 20, "value_id": 21},
    {"name": "tags", "id": 7, "shape": "list", "type": "long", "element_id": 22},
    {"name": "small", "id": 8, "type": "int"},
    {"name": "ratio", "id": 9, "type": "float"},
    {"name": "score", "id": 10, "type": "double"},
    {"name": "ok", "id": 11, "type": "boolean"},
    {"name": "day", "id": 12, "type": "date"},
    {"name": "id", "id": 13, "type": "uuid"},
    {"name": "amount", "id": 14, "type": "decimal", "precision": 18, "scale": 4},
    {"name": "big", "id": 15, "type": "decimal", "precision": 38, "scale": 0},
    {"name": "code", "id": 16, "type": "fixed", "length": 3},
    {"name": "names", "id": 17, "shape": "list", "type": "string", "element_id": 23, "element_required": True},
]


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def sample_rows(n, rng):
    rows = []
    base = 1_700_000_000_000_000
    for i in range(n):
        maybe = lambda v: None if rng.random() < 0.15 else v  # noqa: E731
        rows.append([
            i,
            base + i * 1000 + rng.randrange(1000),
            maybe(rng.randrange(-2**50, 2**50)),
            maybe(rng.choice(["alpha", "beta", "", "gamma-" + str(i % 7), "ünïcode ✓"])),
            maybe({"hex": os.urandom(rng.randrange(0, 40)).hex()}),
            maybe([[f"k{j}", maybe(f"v{rng.randrange(5)}")] for j in range(rng.randrange(0, 4))]),
            maybe([maybe(rng.randrange(-10, 10)) for _ in range(rng.randrange(0, 5))]),
            maybe(rng.choice([0, 1, -1, 2**31 - 1, -2**31, rng.randrange(-1000, 1000)])),
            maybe(f32(rng.uniform(-1e6, 1e6))),
            maybe(rng.choice([0.0, -0.0, 1.5, -2.25e300, rng.uniform(-1, 1)])),
            maybe(rng.random() < 0.5),
            maybe(rng.randrange(-30000, 30000)),
            maybe({"hex": os.urandom(16).hex()}),
            maybe(str(rng.randrange(-10**18 + 1, 10**18))),
            maybe(str(rng.randrange(-10**38 + 1, 10**38))),
            maybe({"hex": os.urandom(3).hex()}),
            maybe([rng.choice(["x", "yy", ""]) for _ in range(rng.randrange(0, 3))]),
        ])
    return rows


def write(tmp_path, fields, rows, name="t.parquet", **options):
    spec = tmp_path / (name + ".json")
    batch_rows = options.pop("batch_rows", 1000)
    spec.write_text(json.dumps({"fields": fields, "rows": rows, "options": options, "batch_rows": batch_rows}))
    out = tmp_path / name
    p = subprocess.run([TOOL, "write", str(spec), str(out)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return out, json.loads(p.stdout)


def read(path, *ids):
    p = subprocess.run([TOOL, "read", str(path), *map(str, ids)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


WRITE_OPTIONS = [
    {"codec": "zstd", "metadata": {"frazil.offset.start": "0", "iceberg.schema": "{}"}},
    {"codec": "snappy"},
    {"codec": "uncompressed"},
    {"codec": "gzip"},
    {"codec": "gzip", "level": 9, "dictionary": False},
    {"codec": "zstd", "level": 19, "dictionary": False, "delta": False},
    # Tiny pages, row groups and dictionary limit: many pages, row groups and
    # a dictionary that falls back to PLAIN mid-chunk.
    {"codec": "snappy", "page_bytes": 512, "row_group_bytes": 8192, "dictionary_bytes_limit": 64, "batch_rows": 100},
]


@pytest.mark.parametrize("options", WRITE_OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_pyarrow_and_duckdb_read_what_we_write(tmp_path, options):
    rng = random.Random(42)
    rows = sample_rows(1500, rng)
    path, result = write(tmp_path, FIELDS, rows, **dict(options))

    # pyarrow: same rows, same types, field ids on every column.
    table = pq.read_table(path)
    # The same Arrow schema (types, nullability, field ids) as pyarrow's own
    # round trip of these rows.
    ref = tmp_path / "ref.parquet"
    pq.write_table(arrow_table(FIELDS, rows), ref)
    expected = pq.read_table(ref).schema
    # Field metadata (the ids) must match; file-level key/value metadata is ours.
    ours = table.schema.remove_metadata()
    assert ours.equals(expected.remove_metadata(), check_metadata=True), f"{ours}\n!=\n{expected}"
    assert canonical(rows_from_table(table, FIELDS)) == canonical(rows)
    assert table.schema.field("publish_time").type.tz == "UTC"
    assert table.schema.field("local_time").type.tz is None

    # Every column chunk says the codec it was written with.
    meta = pq.ParquetFile(path).metadata
    codecs = {meta.row_group(g).column(c).compression
              for g in range(meta.num_row_groups) for c in range(meta.row_group(g).num_columns)}
    assert codecs == {options["codec"].upper()}, codecs

    # Our reader: the same rows back.
    assert canonical(read(path)["rows"]) == canonical(rows)

    # DuckDB: same rows for a sample of columns, maps as maps, decimals exact.
    con = duckdb.connect()
    got = con.execute(f'select "offset", producer, attributes, amount::varchar, big::varchar, "day", tags '
                      f"from '{path}' order by 1").fetchall()
    assert len(got) == len(rows)
    for g, r in zip(got, rows):
        assert g[0] == r[0]
        assert g[1] == r[3]
        assert g[2] == (None if r[5] is None else {k: v for k, v in r[5]})
        assert g[3] == (None if r[13] is None else str(decimal.Decimal(int(r[13])).scaleb(-4, context=WIDE)))
        assert g[4] == r[14]
        assert g[5] == (None if r[11] is None else datetime.date(1970, 1, 1) + datetime.timedelta(days=r[11]))
        assert g[6] == r[6]
    types = dict((c[0], c[1]) for c in con.execute(f"describe select * from '{path}'").fetchall())
    assert types["publish_time"] == "TIMESTAMP WITH TIME ZONE" and types["local_time"] == "TIMESTAMP"
    assert types["attributes"] == "MAP(VARCHAR, VARCHAR)" and types["amount"] == "DECIMAL(18,4)"

    # Statistics in the footer match the data, per row group.
    md = pq.ParquetFile(path).metadata
    for k, v in options.get("metadata", {}).items():
        assert md.metadata[k.encode()] == v.encode()
    assert md.num_rows == len(rows) == result["record_count"]
    assert result["file_size"] == path.stat().st_size
    assert result["split_offsets"] == [md.row_group(g).column(0).file_offset or
                                       md.row_group(g).column(0).dictionary_page_offset or
                                       md.row_group(g).column(0).data_page_offset for g in range(md.num_row_groups)]
    start = 0
    for g in range(md.num_row_groups):
        rg = md.row_group(g)
        chunk = rows[start:start + rg.num_rows]
        start += rg.num_rows
        for col, idx in (("offset", 0), ("small", 7), ("producer", 3), ("day", 11)):
            c = rg.column([rg.column(k).path_in_schema for k in range(rg.num_columns)].index(col))
            values = [r[idx] for r in chunk if r[idx] is not None]
            st = c.statistics
            assert st.null_count == sum(1 for r in chunk if r[idx] is None)
            if values:
                assert st.has_min_max
                got_min, got_max = st.min, st.max
                if col == "day":
                    got_min = (got_min - datetime.date(1970, 1, 1)).days
                    got_max = (got_max - datetime.date(1970, 1, 1)).days
                assert (got_min, got_max) == (min(values), max(values)), col
    if options.get("row_group_bytes"):
        assert md.num_row_groups > 1
    # Metrics for the manifest: value and null counts per leaf field id.
    metrics = {c["field_id"]: c for c in result["columns"]}
    assert metrics[1]["value_count"] == len(rows) and metrics[1]["null_count"] == 0
    assert metrics[4]["null_count"] == sum(1 for r in rows if r[3] is None)
    assert metrics[22]["value_count"] == sum(max(1, len(r[6] or [])) for r in rows)
    assert bytes.fromhex(metrics[1]["lower_bound"]) == struct.pack("<q", 0)
    assert bytes.fromhex(metrics[1]["upper_bound"]) == struct.pack("<q", len(rows) - 1)


PYARROW_OPTIONS = [
    dict(compression="NONE"),
    dict(compression="SNAPPY"),
    dict(compression="ZSTD", compression_level=5),
    dict(compression="GZIP"),
    dict(compression="ZSTD", use_dictionary=False),
    dict(compression="SNAPPY", data_page_version="2.0"),
    dict(compression="NONE", data_page_version="2.0", use_dictionary=False),
    dict(compression="ZSTD", use_dictionary=["producer"],
         column_encoding={"offset": "DELTA_BINARY_PACKED", "small": "DELTA_BINARY_PACKED", "day": "DELTA_BINARY_PACKED",
                          "publish_time": "DELTA_BINARY_PACKED"}),
    dict(compression="SNAPPY", data_page_size=256, row_group_size=300, data_page_version="2.0"),
    dict(compression="ZSTD", data_page_size=100, dictionary_pagesize_limit=64),
]


@pytest.mark.parametrize("options", PYARROW_OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items())[:60])
def test_we_read_what_pyarrow_writes(tmp_path, options):
    rng = random.Random(7)
    rows = sample_rows(1200, rng)
    path = tmp_path / "pa.parquet"
    pq.write_table(arrow_table(FIELDS, rows), path, **options)
    got = read(path)
    assert canonical(got["rows"]) == canonical(rows)
    assert [f["id"] for f in got["schema"]] == [f["id"] for f in FIELDS]
    # Projection by field id, in the order asked.
    proj = read(path, 14, 1)
    assert [f["name"] for f in proj["schema"]] == ["amount", "offset"]
    assert proj["rows"] == [[r[13], r[0]] for r in rows]


def test_row_group_selection_by_offset_range(tmp_path):
    fields = [{"name": "offset", "id": 1, "required": True, "type": "long"},
              {"name": "payload", "id": 2, "type": "binary"}]
    rows = [[i, {"hex": os.urandom(50).hex()}] for i in range(5000)]
    path, _ = write(tmp_path, fields, rows, row_group_bytes=20000, batch_rows=100, codec="uncompressed")
    md = pq.ParquetFile(path).metadata
    assert md.num_row_groups >= 5
    bounds = []
    for g in range(md.num_row_groups):
        st = md.row_group(g).column(0).statistics
        bounds.append((st.min, st.max))
    lo, hi = bounds[2][0] + 1, bounds[3][0] + 1  # inside group 2 up to inside group 3
    p = subprocess.run([TOOL, "select", str(path), "1", str(lo), str(hi)], capture_output=True, text=True, check=True)
    assert json.loads(p.stdout) == [2, 3]
    p = subprocess.run([TOOL, "select", str(path), "1", "100000", "200000"], capture_output=True, text=True, check=True)
    assert json.loads(p.stdout) == []


def random_schema(rng):
    types = ["boolean", "int", "long", "float", "double", "string", "binary", "date", "timestamp", "timestamptz",
             "uuid", "decimal", "fixed"]
    fields, next_id = [], 1
    for i in range(rng.randrange(1, 7)):
        t = rng.choice(types)
        f = {"name": f"c{i}", "id": next_id, "type": t, "required": rng.random() < 0.3}
        next_id += 1
        if t == "decimal":
            f["precision"] = rng.randrange(1, 39)
            f["scale"] = rng.randrange(0, f["precision"] + 1)
        if t == "fixed":
            f["length"] = rng.randrange(1, 20)
        # pyarrow cannot build list<uuid> or map<_, uuid> from Python values,
        # so uuids stay top-level here (FIELDS covers the rest).
        shape = "primitive" if t == "uuid" else rng.choice(["primitive", "primitive", "list", "map"])
        if shape == "list":
            f.update(shape="list", element_id=next_id, element_required=rng.random() < 0.3)
            next_id += 1
        elif shape == "map":
            f.update(shape="map", key_id=next_id, value_id=next_id + 1, value_required=rng.random() < 0.3)
            next_id += 2
        fields.append(f)
    return fields


def random_value(f, rng, required):
    if not required and rng.random() < 0.2:
        return None
    t = f["type"]
    if t == "boolean":
        return rng.random() < 0.5
    if t == "int":
        return rng.choice([0, -1, 2**31 - 1, -2**31, rng.randrange(-2**31, 2**31)])
    if t in ("long", "timestamp", "timestamptz"):
        lim = 2**62 if t == "long" else 2**50
        return rng.choice([0, -1, lim - 1, -lim, rng.randrange(-lim, lim)])
    if t == "date":
        return rng.randrange(-700000, 2900000)
    if t == "float":
        return rng.choice([f32(rng.uniform(-3e38, 3e38)), 0.0, -0.0, {"float": "inf"}, {"float": "nan"}])
    if t == "double":
        return rng.choice([rng.uniform(-1, 1) * 1e308, 0.0, -0.0, {"float": "-inf"}, {"float": "nan"}, 5e-324])
    if t == "string":
        return "".join(rng.choice("ab€😀\x00z") for _ in range(rng.choice([0, 1, 5, 300])))
    if t == "binary":
        return {"hex": os.urandom(rng.choice([0, 1, 7, 1000])).hex()}
    if t == "uuid":
        return {"hex": os.urandom(16).hex()}
    if t == "fixed":
        return {"hex": os.urandom(f["length"]).hex()}
    p = f["precision"]
    return str(rng.choice([0, 10**p - 1, -(10**p - 1), rng.randrange(-(10**p) + 1, 10**p)]))


def random_rows(fields, rng, n):
    rows = []
    for _ in range(n):
        row = []
        for f in fields:
            shape = f.get("shape", "primitive")
            if shape == "primitive":
                row.append(random_value(f, rng, f["required"]))
            elif not f["required"] and rng.random() < 0.15:
                row.append(None)
            elif shape == "list":
                row.append([random_value(f, rng, f["element_required"]) for _ in range(rng.choice([0, 1, 3, 20]))])
            else:
                keys = rng.sample(range(1000), rng.choice([0, 1, 4]))
                row.append([[f"k{k}", random_value(f, rng, f["value_required"])] for k in keys])
        rows.append(row)
    return rows


@pytest.mark.parametrize("seed", range(25))
def test_property_round_trips(tmp_path, seed):
    rng = random.Random(seed)
    fields = random_schema(rng)
    rows = random_rows(fields, rng, rng.choice([0, 1, 50, 700]))
    opts = rng.choice(WRITE_OPTIONS)
    # Ours -> pyarrow.
    path, _ = write(tmp_path, fields, rows, **dict(opts))
    table = pq.read_table(path)
    assert canonical(rows_from_table(table, fields)) == canonical(rows), f"seed {seed}: {fields}"
    assert canonical(read(path)["rows"]) == canonical(rows)
    # pyarrow -> ours.
    pa_path = tmp_path / "pa.parquet"
    pq.write_table(arrow_table(fields, rows), pa_path, **rng.choice(PYARROW_OPTIONS))
    assert canonical(read(pa_path)["rows"]) == canonical(rows), f"seed {seed}: {fields}"


def test_corrupt_files_get_clear_errors(tmp_path):
    rng = random.Random(3)
    rows = sample_rows(300, rng)
    good, _ = write(tmp_path, FIELDS, rows, page_bytes=2000)
    data = good.read_bytes()

    def run(blob, name):
        p = tmp_path / name
        p.write_bytes(blob)
        return subprocess.run([TOOL, "read", str(p)], capture_output=True, text=True)

    r = run(b"", "empty.parquet")
    assert r.returncode == 1 and "too short" in r.stderr
    r = run(b"XXXX" + data[4:], "magic.parquet")
    assert r.returncode == 1 and "bad magic" in r.stderr
    r = run(data[:-8] + struct.pack("<I", len(data)) + b"PAR1", "footerlen.parquet")
    assert r.returncode == 1 and "footer length" in r.stderr
    r = run(data[: len(data) // 2], "truncated.parquet")
    assert r.returncode == 1 and "magic" in r.stderr
    # Damage anywhere: an error or (when the byte did not matter) the right
    # rows, never a crash or wrong rows reported as success... unless the
    # damage hit a value byte, which Parquet cannot detect without page CRCs.
    crashes = 0
    for i in range(300):
        blob = bytearray(data)
        pos = rng.randrange(4, len(blob) - 8)
        blob[pos] ^= 1 << rng.randrange(8)
        r = run(bytes(blob), f"flip{i}.parquet")
        if r.returncode < 0:
            crashes += 1
        assert r.returncode in (0, 1), (pos, r.returncode, r.stderr[-500:])
        if r.returncode == 1:
            assert r.stderr.startswith("parquet_tool: ") and len(r.stderr) > 20
    assert crashes == 0
