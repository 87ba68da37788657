"""Nested Parquet columns (structs, lists and maps to any depth) between our
writer and reader and pyarrow, nulls at every level."""
import json
import os
import random
import subprocess

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import REPO

TOOL = os.environ.get("FRAZIL_PARQUET_TOOL", str(REPO / "build" / "parquet_tool"))


def prim(t, id, required=False, name=None):
    f = {"type": t, "id": id, "required": required}
    if name:
        f["name"] = name
    return f


def named(name, f):
    if name:
        f["name"] = name
    return f


def struct(name, id, fields, required=False):
    return named(name, {"id": id, "type": "struct", "fields": fields, "required": required})


def lst(name, id, element, required=False):
    return named(name, {"id": id, "type": "list", "element": element, "required": required})


def mp(name, id, key, value, required=False):
    return named(name, {"id": id, "type": "map", "key": key, "value": value, "required": required})


FIELDS = [
    {"name": "offset", "id": 1, "type": "long", "required": True},
    struct("s", 2, [prim("int", 3, name="a"), prim("string", 4, True, name="b"),
                    struct("inner", 5, [prim("double", 6, name="x")])]),
    lst("people", 7, struct(None, 8, [prim("string", 9, name="name"),
                                      lst("scores", 10, prim("long", 11))])),
    mp("by_name", 12, prim("string", 13, True),
       struct(None, 14, [prim("double", 15, name="v"), lst("w", 16, prim("string", 17, True), required=True)])),
    lst("matrix", 18, lst(None, 19, prim("long", 20))),
    mp("int_keys", 21, prim("int", 22, True), lst(None, 23, prim("boolean", 24))),
    lst("maps", 25, mp(None, 26, prim("string", 27, True), prim("long", 28))),
    struct("req", 29, [prim("long", 30, True, name="id"), struct("deep", 31, [prim("string", 32, name="z")],
                                                                  required=True)], required=True),
    {"name": "tags", "id": 33, "shape": "list", "type": "string", "element_id": 34},
]


def gen(f, rng):
    """A random value for field f in parquet_tool's JSON form."""
    if not f.get("required") and rng.random() < 0.15:
        return None
    t = f["type"]
    if f.get("shape") == "list":
        return [rng.choice(["x", "yy", None, ""]) for _ in range(rng.randrange(0, 4))]
    if t == "struct":
        return {c["name"]: gen(c, rng) for c in f["fields"]}
    if t == "list":
        return [gen(f["element"], rng) for _ in range(rng.randrange(0, 4))]
    if t == "map":
        return [[gen(f["key"], rng), gen(f["value"], rng)] for _ in range(rng.randrange(0, 4))]
    if t == "long":
        return rng.randrange(-2**40, 2**40)
    if t == "int":
        return rng.randrange(-2**31, 2**31)
    if t == "double":
        return rng.randrange(-10**6, 10**6) / 16
    if t == "boolean":
        return rng.random() < 0.5
    return rng.choice(["alpha", "beta", "", "ünïcode ✓", "g" * rng.randrange(1, 30)])


def sample_rows(n, seed):
    rng = random.Random(seed)
    return [[i] + [gen(f, rng) for f in FIELDS[1:]] for i in range(n)]


PRIMS = {"long": pa.int64(), "int": pa.int32(), "double": pa.float64(), "boolean": pa.bool_(), "string": pa.string()}


def arrow_field(f, name=None):
    meta = {b"PARQUET:field_id": str(f["id"]).encode()}
    name = name or f["name"]
    nullable = not f.get("required")
    if f.get("shape") == "list":
        el = pa.field("element", PRIMS[f["type"]], nullable=not f.get("element_required"),
                      metadata={b"PARQUET:field_id": str(f["element_id"]).encode()})
        return pa.field(name, pa.list_(el), nullable=nullable, metadata=meta)
    t = f["type"]
    if t == "struct":
        typ = pa.struct([arrow_field(c) for c in f["fields"]])
    elif t == "list":
        typ = pa.list_(arrow_field(f["element"], "element"))
    elif t == "map":
        typ = pa.map_(arrow_field(f["key"], "key"), arrow_field(f["value"], "value"))
    else:
        typ = PRIMS[t]
    return pa.field(name, typ, nullable=nullable, metadata=meta)


def to_arrow_value(f, v):
    """parquet_tool JSON -> what pyarrow's to_pylist gives (maps as lists of tuples)."""
    if v is None:
        return None
    t = f["type"]
    if f.get("shape") == "list":
        return v
    if t == "struct":
        return {c["name"]: to_arrow_value(c, v.get(c["name"])) for c in f["fields"]}
    if t == "list":
        return [to_arrow_value(f["element"], e) for e in v]
    if t == "map":
        return [(to_arrow_value(f["key"], k), to_arrow_value(f["value"], x)) for k, x in v]
    return v


def from_arrow_value(f, v):
    """The inverse: pyarrow's values -> parquet_tool JSON."""
    if v is None:
        return None
    t = f["type"]
    if f.get("shape") == "list":
        return v
    if t == "struct":
        return {c["name"]: from_arrow_value(c, v[c["name"]]) for c in f["fields"]}
    if t == "list":
        return [from_arrow_value(f["element"], e) for e in v]
    if t == "map":
        return [[from_arrow_value(f["key"], k), from_arrow_value(f["value"], x)] for k, x in v]
    return v


def arrow_table(rows):
    schema = pa.schema([arrow_field(f) for f in FIELDS])
    cols = [[to_arrow_value(f, r[i]) for r in rows] for i, f in enumerate(FIELDS)]
    return pa.Table.from_arrays([pa.array(c, type=schema.field(i).type) for i, c in enumerate(cols)], schema=schema)


def write(tmp_path, rows, **options):
    spec = tmp_path / "spec.json"
    batch_rows = options.pop("batch_rows", 500)
    spec.write_text(json.dumps({"fields": FIELDS, "rows": rows, "options": options, "batch_rows": batch_rows}))
    out = tmp_path / "ours.parquet"
    p = subprocess.run([TOOL, "write", str(spec), str(out)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return out, json.loads(p.stdout)


def read(path, *ids):
    p = subprocess.run([TOOL, "read", str(path), *map(str, ids)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def ids_of(field):
    """Every field id in an Arrow field, depth first."""
    out = [int(field.metadata[b"PARQUET:field_id"])]
    t = field.type
    if pa.types.is_struct(t):
        for i in range(t.num_fields):
            out += ids_of(t.field(i))
    elif pa.types.is_map(t):
        out += ids_of(t.key_field) + ids_of(t.item_field)
    elif pa.types.is_list(t):
        out += ids_of(t.value_field)
    return out


@pytest.mark.parametrize("options", [
    {"codec": "zstd"},
    {"codec": "uncompressed", "dictionary": False, "delta": False},
    {"codec": "snappy", "page_bytes": 300, "row_group_bytes": 6000, "batch_rows": 70},
], ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_pyarrow_reads_nested_columns_we_write(tmp_path, options):
    rows = sample_rows(2000, 11)
    path, result = write(tmp_path, rows, **dict(options))
    table = pq.read_table(path)
    # The Arrow schema pyarrow sees is the one of pyarrow's own round trip of
    # these rows (pyarrow names a map's entries after its field on reading),
    # field ids at every level.
    ref = tmp_path / "ref.parquet"
    pq.write_table(arrow_table(rows), ref)
    expected = pq.read_table(ref).schema.remove_metadata()
    assert table.schema.remove_metadata().equals(expected, check_metadata=True), f"{table.schema}\n!=\n{expected}"
    assert [ids_of(table.schema.field(i)) for i in range(len(FIELDS))] == \
        [ids_of(expected.field(i)) for i in range(len(FIELDS))]
    got = table.to_pylist()
    assert len(got) == len(rows)
    for g, r in zip(got, rows):
        assert [g[f["name"]] for f in FIELDS] == [to_arrow_value(f, v) for f, v in zip(FIELDS, r)]
    # And our reader gives the rows back.
    assert read(path)["rows"] == rows
    if options.get("row_group_bytes"):
        assert pq.ParquetFile(path).metadata.num_row_groups > 1
    # Metrics: a leaf below structs only counts a level entry per row.
    metrics = {c["field_id"]: c for c in result["columns"]}
    assert metrics[3]["value_count"] == len(rows)
    assert metrics[3]["null_count"] == sum(1 for r in rows if r[1] is None or r[1]["a"] is None)
    assert metrics[6]["null_count"] == sum(
        1 for r in rows if r[1] is None or r[1]["inner"] is None or r[1]["inner"]["x"] is None)


PYARROW_OPTIONS = [
    dict(compression="NONE"),
    dict(compression="ZSTD", use_dictionary=False),
    dict(compression="SNAPPY", data_page_version="2.0"),
    dict(compression="SNAPPY", data_page_size=256, row_group_size=300, data_page_version="2.0"),
    dict(compression="ZSTD", data_page_size=100, dictionary_pagesize_limit=64, write_batch_size=7),
]


@pytest.mark.parametrize("options", PYARROW_OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items())[:60])
def test_we_read_nested_columns_pyarrow_writes(tmp_path, options):
    rows = sample_rows(1500, 5)
    path = tmp_path / "pa.parquet"
    table = arrow_table(rows)
    pq.write_table(table, path, **options)
    got = read(path)
    assert got["rows"] == rows
    # The tree comes back with its ids, flat list in the old form.
    assert [f["id"] for f in got["schema"]] == [f["id"] for f in FIELDS]
    assert got["schema"][1]["type"] == "struct"
    assert [c["id"] for c in got["schema"][1]["fields"]] == [3, 4, 5]
    assert got["schema"][3]["value"]["fields"][1]["element_id"] == 17
    assert got["schema"][5]["key"]["type"] == "int" and got["schema"][5]["value"]["element_id"] == 24
    assert got["schema"][8]["shape"] == "list"
    # A projection: one nested column, then the flat one.
    proj = read(path, 25, 1)
    assert proj["rows"] == [[r[6], r[0]] for r in rows]


def test_we_read_pyarrows_legacy_list_names(tmp_path):
    # Lists whose repeated group is not named "list" (use_compliant_nested_type=False
    # writes "item" elements) are read the same.
    rows = sample_rows(300, 3)
    path = tmp_path / "legacy.parquet"
    pq.write_table(arrow_table(rows), path, use_compliant_nested_type=False)
    assert read(path)["rows"] == rows
