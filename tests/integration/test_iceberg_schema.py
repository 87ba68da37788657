"""Frazil's Iceberg schema JSON against PyIceberg's model of the same schema."""
import json
import os
import subprocess

from pyiceberg.schema import Schema
from pyiceberg.types import (BinaryType, BooleanType, DateType, DecimalType, DoubleType, FixedType, FloatType,
                             IntegerType, ListType, LongType, MapType, NestedField, StringType, StructType,
                             TimestampType, TimestamptzType, TimeType, UUIDType)

from conftest import REPO

TOOL = os.environ.get("FRAZIL_ICEBERG_TOOL", str(REPO / "build" / "iceberg_tool"))


def run(tmp_path, text):
    path = tmp_path / "schema.json"
    path.write_text(text)
    return subprocess.run([TOOL, "schema", str(path)], capture_output=True, text=True)


def pyiceberg_schema():
    return Schema(
        NestedField(1, "offset", LongType(), required=True),
        NestedField(2, "publish_time", TimestamptzType(), required=True),
        NestedField(3, "local", TimestampType(), required=False, doc="wall clock"),
        NestedField(4, "attributes", MapType(10, StringType(), 11, StringType(), value_required=False), required=False),
        NestedField(5, "tags", ListType(12, StringType(), element_required=True), required=False),
        NestedField(6, "price", DecimalType(38, 10), required=False),
        NestedField(7, "id", UUIDType(), required=False),
        NestedField(8, "blob", FixedType(16), required=False),
        NestedField(9, "payload", BinaryType(), required=False),
        NestedField(13, "flags", StructType(
            NestedField(14, "ok", BooleanType(), required=True),
            NestedField(15, "n", IntegerType(), required=False),
            NestedField(16, "f", FloatType(), required=False),
            NestedField(17, "d", DoubleType(), required=False),
            NestedField(18, "day", DateType(), required=False),
            NestedField(19, "t", TimeType(), required=False)), required=False),
        schema_id=3, identifier_field_ids=[1])


def test_pyiceberg_and_frazil_agree_on_schema_json(tmp_path):
    theirs = pyiceberg_schema()
    p = run(tmp_path, theirs.model_dump_json())
    assert p.returncode == 0, p.stderr
    ours = Schema.model_validate_json(p.stdout)
    assert ours == theirs
    assert ours.schema_id == 3 and ours.identifier_field_ids == [1]
    assert ours.highest_field_id == theirs.highest_field_id
    # Stable: what we write, we read back to the same text.
    assert run(tmp_path, p.stdout).stdout == p.stdout


def test_invalid_schemas_are_clear_errors(tmp_path):
    good = json.loads(pyiceberg_schema().model_dump_json())
    dup = json.loads(json.dumps(good))
    dup["fields"][1]["id"] = 1
    p = run(tmp_path, json.dumps(dup))
    assert p.returncode == 1 and "used twice" in p.stderr
    bad_type = json.loads(json.dumps(good))
    bad_type["fields"][0]["type"] = "varchar"
    p = run(tmp_path, json.dumps(bad_type))
    assert p.returncode == 1 and "varchar" in p.stderr
    p = run(tmp_path, "{not json")
    assert p.returncode == 1
