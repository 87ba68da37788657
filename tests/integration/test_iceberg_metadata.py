"""Frazil's table metadata JSON against PyIceberg's TableMetadata model."""
import copy
import json
import os
import subprocess

from pyiceberg.table.metadata import TableMetadataUtil

from conftest import REPO

TOOL = os.environ.get("FRAZIL_ICEBERG_TOOL", str(REPO / "build" / "iceberg_tool"))

SCHEMA = {"type": "struct", "schema-id": 0, "identifier-field-ids": [], "fields": [
    {"id": 1, "name": "offset", "required": True, "type": "long"},
    {"id": 2, "name": "publish_time", "required": True, "type": "timestamptz"},
    {"id": 3, "name": "attributes", "required": False,
     "type": {"type": "map", "key-id": 4, "key": "string", "value-id": 5, "value-required": False, "value": "string"}},
    {"id": 6, "name": "payload", "required": False, "type": "binary"}]}

V2 = {
    "format-version": 2,
    "table-uuid": "9c12d441-03fe-4693-9a96-a0705ddf69c1",
    "location": "file:///warehouse/default/orders",
    "last-sequence-number": 2,
    "last-updated-ms": 1763000000123,
    "last-column-id": 6,
    "schemas": [SCHEMA, dict(SCHEMA, **{"schema-id": 1, "fields": SCHEMA["fields"] + [
        {"id": 7, "name": "region", "required": False, "type": "string"}]})],
    "current-schema-id": 1,
    "partition-specs": [{"spec-id": 0, "fields": [
        {"source-id": 2, "field-id": 1000, "name": "publish_time_day", "transform": "day"}]}],
    "default-spec-id": 0,
    "last-partition-id": 1000,
    "sort-orders": [{"order-id": 1, "fields": [
        {"transform": "identity", "source-id": 1, "direction": "asc", "null-order": "nulls-first"}]}],
    "default-sort-order-id": 1,
    "properties": {"frazil.committed-offset": "41", "write.metadata.previous-versions-max": "100"},
    "current-snapshot-id": 3055729675574597004,
    "snapshots": [
        {"snapshot-id": 3051729675574597004, "sequence-number": 1, "timestamp-ms": 1763000000000,
         "manifest-list": "file:///warehouse/default/orders/metadata/snap-1.avro",
         "summary": {"operation": "append", "frazil.offset.start": "0", "frazil.offset.end": "20"}, "schema-id": 0},
        {"snapshot-id": 3055729675574597004, "parent-snapshot-id": 3051729675574597004, "sequence-number": 2,
         "timestamp-ms": 1763000000100, "manifest-list": "file:///warehouse/default/orders/metadata/snap-2.avro",
         "summary": {"operation": "append", "frazil.offset.start": "21", "frazil.offset.end": "41"}, "schema-id": 1}],
    "snapshot-log": [{"snapshot-id": 3051729675574597004, "timestamp-ms": 1763000000000},
                     {"snapshot-id": 3055729675574597004, "timestamp-ms": 1763000000100}],
    "metadata-log": [{"metadata-file": "file:///warehouse/default/orders/metadata/00000-a.metadata.json",
                      "timestamp-ms": 1762999999000}],
    "refs": {"main": {"snapshot-id": 3055729675574597004, "type": "branch"},
             "committed": {"snapshot-id": 3051729675574597004, "type": "tag", "max-ref-age-ms": 86400000}},
}


def through_frazil(tmp_path, doc):
    path = tmp_path / "in.metadata.json"
    path.write_text(json.dumps(doc))
    return subprocess.run([TOOL, "metadata", str(path)], capture_output=True, text=True)


def test_v2_round_trip_is_equal_for_pyiceberg(tmp_path):
    theirs = TableMetadataUtil.parse_raw(json.dumps(V2))  # the document is valid for PyIceberg
    p = through_frazil(tmp_path, V2)
    assert p.returncode == 0, p.stderr
    ours = TableMetadataUtil.parse_raw(p.stdout)
    assert ours == theirs
    assert ours.current_snapshot().summary["frazil.offset.end"] == "41"
    assert ours.refs["committed"].snapshot_ref_type == "tag"


def test_pyiceberg_written_metadata_reads_back(tmp_path):
    theirs = TableMetadataUtil.parse_raw(json.dumps(V2))
    p = through_frazil(tmp_path, json.loads(theirs.model_dump_json()))
    assert p.returncode == 0, p.stderr
    assert TableMetadataUtil.parse_raw(p.stdout) == theirs


def test_v1_metadata_is_read(tmp_path):
    v1 = {"format-version": 1, "table-uuid": V2["table-uuid"], "location": V2["location"],
          "last-updated-ms": V2["last-updated-ms"], "last-column-id": 6, "schema": SCHEMA,
          "partition-spec": [{"name": "publish_time_day", "transform": "day", "source-id": 2, "field-id": 1000}],
          "properties": {}, "current-snapshot-id": -1, "snapshots": []}
    theirs = TableMetadataUtil.parse_raw(json.dumps(v1))
    p = through_frazil(tmp_path, v1)
    assert p.returncode == 0, p.stderr
    ours = TableMetadataUtil.parse_raw(p.stdout)  # written as v2
    assert ours.format_version == 2
    assert ours.schema() == theirs.schema()
    assert ours.spec() == theirs.spec()
    assert ours.current_snapshot_id is None and ours.location == theirs.location


def test_inconsistent_metadata_is_refused(tmp_path):
    for mutate, words in (
        (lambda d: d.update({"current-schema-id": 9}), "current-schema-id"),
        (lambda d: d.update({"current-snapshot-id": 1}), "not among the snapshots"),
        (lambda d: d["refs"].update({"main": {"snapshot-id": 3051729675574597004, "type": "branch"}}), "main"),
        (lambda d: d["refs"].update({"x": {"snapshot-id": 5, "type": "tag"}}), "unknown snapshot"),
        (lambda d: d.pop("schemas"), "schemas"),
        (lambda d: d.update({"format-version": 9}), "format version"),
    ):
        doc = copy.deepcopy(V2)
        mutate(doc)
        p = through_frazil(tmp_path, doc)
        assert p.returncode == 1 and words in p.stderr, (words, p.stderr)
