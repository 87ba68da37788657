"""Frazil's Avro container files against fastavro, an independent implementation."""
import io
import json
import os
import random
import subprocess

import fastavro
import pytest

from conftest import REPO

TOOL = os.environ.get("FRAZIL_AVRO_TOOL", str(REPO / "build" / "avro_tool"))

# The shape of an Iceberg manifest entry, ids as attributes on every level.
SCHEMA = {
    "type": "record", "name": "manifest_entry", "fields": [
        {"name": "status", "type": "int", "field-id": 0},
        {"name": "snapshot_id", "type": ["null", "long"], "default": None, "field-id": 1},
        {"name": "data_file", "field-id": 2, "type": {"type": "record", "name": "r2", "fields": [
            {"name": "file_path", "type": "string", "field-id": 100},
            {"name": "record_count", "type": "long", "field-id": 103},
            {"name": "column_sizes", "field-id": 108, "default": None, "type": ["null", {
                "type": "array", "logicalType": "map", "items": {"type": "record", "name": "k117_v118", "fields": [
                    {"name": "key", "type": "int", "field-id": 117},
                    {"name": "value", "type": "long", "field-id": 118}]}}]},
            {"name": "lower_bounds", "field-id": 125, "default": None, "type": ["null", {
                "type": "array", "logicalType": "map", "items": {"type": "record", "name": "k126_v127", "fields": [
                    {"name": "key", "type": "int", "field-id": 126},
                    {"name": "value", "type": "bytes", "field-id": 127}]}}]},
            {"name": "split_offsets", "field-id": 132, "default": None,
             "type": ["null", {"type": "array", "element-id": 133, "items": "long"}]},
            {"name": "props", "field-id": 9, "type": {"type": "map", "values": "string", "key-id": 7, "value-id": 8}},
            {"name": "ratio", "type": "double", "field-id": 10},
            {"name": "flag", "type": "boolean", "field-id": 11},
            {"name": "tag", "type": {"type": "fixed", "name": "tag4", "size": 4}, "field-id": 12},
        ]}},
    ]}


def sample(rng, i):
    return {
        "status": rng.choice([0, 1, 2]),
        "snapshot_id": None if i % 3 == 0 else rng.randrange(-2**63, 2**63),
        "data_file": {
            "file_path": f"s3://bucket/data/day={i % 7}/f{i}-ü.parquet",
            "record_count": rng.randrange(0, 2**40),
            "column_sizes": None if i % 5 == 0 else [{"key": k, "value": rng.randrange(2**40)} for k in range(rng.randrange(4))],
            "lower_bounds": [{"key": 1, "value": os.urandom(8)}],
            "split_offsets": None if i % 4 == 0 else [4, rng.randrange(10**9)],
            "props": {f"k{j}": "v" * j for j in range(rng.randrange(3))},
            "ratio": rng.uniform(-1e9, 1e9),
            "flag": rng.random() < 0.5,
            "tag": os.urandom(4),
        },
    }


def to_tool(value, schema, named=None):
    """A fastavro-style record -> the tool's JSON form."""
    named = {} if named is None else named
    if isinstance(schema, str):
        if schema in named:
            return to_tool(value, named[schema], named)
        return {"hex": value.hex()} if schema == "bytes" else value
    if isinstance(schema, list):
        for b, branch in enumerate(schema):
            if (branch == "null") == (value is None):
                return {"branch": b, "value": to_tool(value, branch, named)}
        raise ValueError("no branch")
    t = schema["type"]
    if t == "record":
        named[schema["name"]] = schema
        return {f["name"]: to_tool(value[f["name"]], f["type"], named) for f in schema["fields"]}
    if t == "array":
        return [to_tool(v, schema["items"], named) for v in value]
    if t == "map":
        return {k: to_tool(v, schema["values"], named) for k, v in value.items()}
    if t == "fixed":
        named[schema["name"]] = schema
        return {"hex": value.hex()}
    return to_tool(value, t, named)


@pytest.mark.parametrize("codec", ["deflate", "null"])
def test_fastavro_reads_ours_with_every_attribute(tmp_path, codec):
    rng = random.Random(5)
    records = [sample(rng, i) for i in range(300)]
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"schema": SCHEMA, "codec": codec, "block_bytes": 2048,
                                "metadata": {"format-version": "2", "content": "data"},
                                "records": [to_tool(r, SCHEMA) for r in records]}))
    out = tmp_path / "ours.avro"
    subprocess.run([TOOL, "write", str(spec), str(out)], check=True)
    with open(out, "rb") as f:
        reader = fastavro.reader(f)
        assert reader.codec == codec
        assert reader.metadata["format-version"] == "2" and reader.metadata["content"] == "data"
        written = json.loads(reader.metadata["avro.schema"])
        got = list(reader)
    assert got == records
    # Every id attribute survived into the file's schema.
    text = json.dumps(written)
    for attr in ('"field-id": 0', '"field-id": 100', '"field-id": 117', '"field-id": 127', '"element-id": 133',
                 '"key-id": 7', '"value-id": 8', '"logicalType": "map"'):
        assert attr in text, attr


def test_we_read_fastavro_files(tmp_path):
    rng = random.Random(9)
    records = [sample(rng, i) for i in range(500)]
    for codec in ("null", "deflate"):
        buf = io.BytesIO()
        fastavro.writer(buf, fastavro.parse_schema(SCHEMA, _write_hint=False), records, codec=codec,
                        sync_interval=4096, metadata={"snapshot-id": "42"})
        path = tmp_path / f"fa-{codec}.avro"
        path.write_bytes(buf.getvalue())
        p = subprocess.run([TOOL, "read", str(path)], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        got = json.loads(p.stdout)
        assert got["metadata"]["snapshot-id"] == "42"
        assert got["records"] == [to_tool(r, SCHEMA) for r in records]


def test_corrupt_containers_get_clear_errors(tmp_path):
    rng = random.Random(1)
    buf = io.BytesIO()
    fastavro.writer(buf, fastavro.parse_schema(SCHEMA, _write_hint=False), [sample(rng, i) for i in range(50)],
                    codec="deflate", sync_interval=1024)
    data = buf.getvalue()
    for i in range(200):
        blob = bytearray(data)
        if i % 2:
            blob = blob[: rng.randrange(len(blob))]
        else:
            blob[rng.randrange(len(blob))] ^= 1 << rng.randrange(8)
        path = tmp_path / f"bad{i}.avro"
        path.write_bytes(bytes(blob))
        p = subprocess.run([TOOL, "read", str(path)], capture_output=True, text=True)
        assert p.returncode in (0, 1), (i, p.returncode, p.stderr[-300:])
        if p.returncode == 1:
            assert p.stderr.startswith("avro_tool: ")
