"""Frazil's tables and SQLite catalog against PyIceberg's SqlCatalog on the
same catalog file and warehouse: each side reads and extends what the other
wrote. Frazil is driven through build/catalog_tool."""
import datetime
import json
import os
import pathlib
import subprocess
import time

import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog

from conftest import REPO

TOOL = os.environ.get("FRAZIL_CATALOG_TOOL", str(REPO / "build" / "catalog_tool"))

SCHEMA = {"type": "struct", "schema-id": 0, "fields": [
    {"id": 1, "name": "offset", "required": True, "type": "long"},
    {"id": 2, "name": "publish_time", "required": True, "type": "timestamptz"},
    {"id": 3, "name": "key", "required": False, "type": "string"},
    {"id": 4, "name": "attributes", "required": False,
     "type": {"type": "map", "key-id": 5, "key": "string", "value-id": 6, "value": "string",
              "value-required": False}},
    {"id": 7, "name": "payload", "required": False, "type": "binary"}]}
DAY_SPEC = {"spec-id": 0, "fields": [
    {"source-id": 2, "field-id": 1000, "name": "publish_time_day", "transform": "day"}]}
SIMPLE_SCHEMA = {"type": "struct", "schema-id": 0, "fields": [
    {"id": 1, "name": "offset", "required": True, "type": "long"},
    {"id": 2, "name": "writer", "required": False, "type": "string"}]}

DAY_US = 86_400_000_000
T0 = 1_700_000_000_000_000  # 2023-11-14T22:13:20Z


class Frazil:
    def __init__(self, tmp: pathlib.Path):
        self.db = tmp / "catalog.db"
        self.warehouse = tmp / "warehouse"
        self.tmp = tmp
        self.n = 0

    def base(self):
        return [TOOL, "--db", str(self.db), "--warehouse", f"file://{self.warehouse}"]

    def run(self, *args, check=True):
        p = subprocess.run(self.base() + [str(a) for a in args], capture_output=True, text=True, timeout=600)
        if check and p.returncode != 0:
            raise AssertionError(f"catalog_tool {args} failed: {p.stderr}")
        return p

    def json(self, *args):
        return json.loads(self.run(*args).stdout)

    def file(self, obj) -> pathlib.Path:
        self.n += 1
        p = self.tmp / f"in{self.n}.json"
        p.write_text(json.dumps(obj))
        return p

    def create_table(self, ident, schema=SCHEMA, spec=DAY_SPEC, *props):
        ns = ident.rsplit(".", 1)[0]
        if ns not in self.json("list-namespaces"):
            self.run("create-namespace", ns)
        return self.json("create-table", ident, self.file(schema), self.file(spec) if spec else "-", *props)

    def append(self, ident, rows, *extra):
        return self.json("append", ident, self.file(rows), *extra)


def envelope(offset, day=0):
    return {"offset": offset, "publish_time": T0 + day * DAY_US + offset, "key": f"k{offset % 3}",
            "attributes": {"n": str(offset)}, "payload": bytes([offset % 256, 0xFF]).hex()}


@pytest.fixture
def fz(tmp_path):
    return Frazil(tmp_path)


def pyiceberg(fz):
    return SqlCatalog("frazil", uri=f"sqlite:///{fz.db}", warehouse=f"file://{fz.warehouse}")


def test_pyiceberg_reads_our_table_and_snapshots(fz):
    fz.create_table("default.events")
    s1 = fz.append("default.events", [envelope(i) for i in range(0, 5)], "--summary", "frazil.offsets=0-4")
    s2 = fz.append("default.events", [envelope(i, day=1) for i in range(5, 8)], "--summary", "frazil.offsets=5-7")
    s3 = fz.append("default.events", [envelope(i, day=i % 2) for i in range(8, 12)],
                   "--summary", "frazil.offsets=8-11")
    t = pyiceberg(fz).load_table("default.events")
    arrow = t.scan().to_arrow().sort_by("offset")
    assert arrow.schema.field("publish_time").type == pa.timestamp("us", tz="UTC")
    assert arrow.schema.field("offset").type == pa.int64()
    assert arrow.schema.field("payload").type == pa.binary()
    assert arrow["offset"].to_pylist() == list(range(12))
    row7 = arrow.slice(7, 1).to_pylist()[0]
    assert row7["attributes"] == [("n", "7")]
    assert row7["payload"] == bytes([7, 0xFF])
    assert row7["publish_time"] == datetime.datetime.fromtimestamp((T0 + DAY_US + 7) / 1e6, datetime.timezone.utc)

    snaps = t.snapshots()
    assert [s.snapshot_id for s in snaps] == [s1["snapshot_id"], s2["snapshot_id"], s3["snapshot_id"]]
    assert [s.sequence_number for s in snaps] == [1, 2, 3]
    assert [s.parent_snapshot_id for s in snaps] == [None, s1["snapshot_id"], s2["snapshot_id"]]
    assert snaps[1].summary["frazil.offsets"] == "5-7"
    assert snaps[2].summary["operation"].value == "append"
    assert snaps[2].summary["total-records"] == "12"
    assert snaps[2].summary["added-records"] == "4"
    # time travel: by id, and by a tag Frazil created
    assert t.scan(snapshot_id=s1["snapshot_id"]).to_arrow().num_rows == 5
    fz.run("tag", "default.events", "first-day", s2["snapshot_id"])
    t = pyiceberg(fz).load_table("default.events")
    tagged = t.snapshot_by_name("first-day")
    assert tagged.snapshot_id == s2["snapshot_id"]
    assert t.scan(snapshot_id=tagged.snapshot_id).to_arrow().num_rows == 8
    # Frazil's own time travel agrees
    assert len(fz.json("scan", "default.events", "--ref", "first-day", "--rows")["rows"]) == 8
    as_of = snaps[1].timestamp_ms
    assert fz.json("scan", "default.events", "--as-of", as_of)["snapshot_id"] == s2["snapshot_id"]
    # metrics PyIceberg sees for a data file match the rows
    entries = t.inspect.entries().to_pylist()
    assert all(e["data_file"]["record_count"] > 0 for e in entries)
    for e in entries:
        m = e["readable_metrics"]["offset"]
        assert m["null_value_count"] == 0 and m["lower_bound"] <= m["upper_bound"]
        # Counts for top-level columns only, as Java writes them: the
        # attribute map's key (5) and value (6) have none (issue 11, item 4).
        counts, nulls = dict(e["data_file"]["value_counts"]), dict(e["data_file"]["null_value_counts"])
        assert counts[1] == e["data_file"]["record_count"] and nulls[1] == 0
        assert not {5, 6} & (counts.keys() | nulls.keys()), counts


def test_pyiceberg_appends_then_frazil_appends_after(fz):
    fz.create_table("default.mixed")
    first = fz.append("default.mixed", [envelope(i) for i in range(3)])
    cat = pyiceberg(fz)
    t = cat.load_table("default.mixed")
    rows = [envelope(i, day=2) for i in range(3, 6)]
    df = pa.table({
        "offset": pa.array([r["offset"] for r in rows], pa.int64()),
        "publish_time": pa.array([r["publish_time"] for r in rows], pa.timestamp("us", tz="UTC")),
        "key": pa.array([r["key"] for r in rows]),
        "attributes": pa.array([list(r["attributes"].items()) for r in rows], pa.map_(pa.string(), pa.string())),
        "payload": pa.array([bytes.fromhex(r["payload"]) for r in rows]),
    }).cast(t.schema().as_arrow())
    t.append(df, snapshot_properties={"writer": "pyiceberg"})
    py_snap = cat.load_table("default.mixed").current_snapshot()

    loaded = fz.json("load", "default.mixed")["metadata"]
    assert loaded["current-snapshot-id"] == py_snap.snapshot_id
    third = fz.append("default.mixed", [envelope(i, day=3) for i in range(6, 9)])
    snaps = fz.json("snapshots", "default.mixed")
    assert [s["snapshot_id"] for s in snaps] == [first["snapshot_id"], py_snap.snapshot_id, third["snapshot_id"]]
    assert snaps[2]["parent_snapshot_id"] == py_snap.snapshot_id
    assert [s["sequence_number"] for s in snaps] == [1, 2, 3]
    ours = fz.json("scan", "default.mixed", "--rows")
    assert sorted(r["offset"] for r in ours["rows"]) == list(range(9))
    assert sorted(f["sequence_number"] for f in ours["files"]) == [1, 2, 3]
    arrow = cat.load_table("default.mixed").scan().to_arrow()
    assert sorted(arrow["offset"].to_pylist()) == list(range(9))
    assert cat.load_table("default.mixed").snapshots()[1].summary["writer"] == "pyiceberg"


def test_frazil_reads_pyiceberg_table_after_schema_evolution(fz):
    from pyiceberg.schema import Schema
    from pyiceberg.types import LongType, NestedField, StringType, DoubleType, IntegerType
    from pyiceberg.partitioning import PartitionSpec, PartitionField
    from pyiceberg.transforms import IdentityTransform

    cat = pyiceberg(fz)
    cat.create_namespace("py")
    schema = Schema(NestedField(1, "id", LongType(), required=True),
                    NestedField(2, "name", StringType(), required=False),
                    NestedField(3, "score", IntegerType(), required=False))
    spec = PartitionSpec(PartitionField(source_id=2, field_id=1000, transform=IdentityTransform(), name="name"))
    t = cat.create_table("py.people", schema=schema, partition_spec=spec)
    t.append(pa.table({"id": pa.array([1, 2], pa.int64()), "name": ["ann", "bob"],
                       "score": pa.array([10, None], pa.int32())}).cast(t.schema().as_arrow()))
    with t.update_schema() as u:
        u.add_column("city", StringType())
        u.update_column("score", LongType())
    t = cat.load_table("py.people")
    t.append(pa.table({"id": pa.array([3], pa.int64()), "name": ["cy"], "score": pa.array([7], pa.int64()),
                       "city": ["oslo"]}).cast(t.schema().as_arrow()))
    assert t.scan().to_arrow().num_rows == 3

    out = fz.json("scan", "py.people", "--rows")
    rows = sorted(out["rows"], key=lambda r: r["id"])
    assert rows == [{"id": 1, "name": "ann", "score": 10, "city": None},
                    {"id": 2, "name": "bob", "score": None, "city": None},
                    {"id": 3, "name": "cy", "score": 7, "city": "oslo"}]
    snaps = fz.json("snapshots", "py.people")
    assert len(snaps) == 2 and snaps[1]["parent_snapshot_id"] == snaps[0]["snapshot_id"]
    # incremental: only what the second snapshot added
    inc = fz.json("appends", "py.people", "--from", snaps[0]["snapshot_id"], "--to", snaps[1]["snapshot_id"], "--rows")
    assert [r["id"] for r in inc["rows"]] == [3]
    # Frazil appends into PyIceberg's evolved, identity-partitioned table
    fz.append("py.people", [{"id": 4, "name": "dee", "score": 1, "city": "rome"}])
    arrow = cat.load_table("py.people").scan().to_arrow()
    assert sorted(arrow["id"].to_pylist()) == [1, 2, 3, 4]
    assert cat.load_table("py.people").scan(row_filter="city == 'rome'").to_arrow()["id"].to_pylist() == [4]


def test_filters_and_incremental_scans(fz):
    fz.create_table("default.ranges")
    ids = []
    for c in range(6):  # 6 commits, 10 offsets each, commit c on day c
        ids.append(fz.append("default.ranges", [envelope(o, day=c) for o in range(c * 10, c * 10 + 10)])["snapshot_id"])
    all_files = fz.json("scan", "default.ranges")["files"]
    assert len(all_files) == 6
    hit = fz.json("scan", "default.ranges", "--range", "1:25:34", "--rows")
    assert len(hit["files"]) == 2  # offsets 20-29 and 30-39
    assert sorted(r["offset"] for r in hit["rows"]) == list(range(20, 40))
    assert fz.json("scan", "default.ranges", "--range", "1:1000:")["files"] == []
    # by partition: a publish_time window projects onto the day partition
    lo, hi = T0 + 2 * DAY_US, T0 + 3 * DAY_US + 100
    by_time = fz.json("scan", "default.ranges", "--range", f"2:{lo}:{hi}")
    assert len(by_time["files"]) == 2
    by_part = fz.json("scan", "default.ranges", "--range", f"1000:{(T0 // DAY_US) + 4}:")
    assert len(by_part["files"]) == 2
    # incremental between snapshots
    inc = fz.json("appends", "default.ranges", "--from", ids[1], "--to", ids[4], "--rows")
    assert sorted(r["offset"] for r in inc["rows"]) == list(range(20, 50))
    assert {f["snapshot_id"] for f in inc["files"]} == set(ids[2:5])
    whole = fz.json("appends", "default.ranges", "--to", ids[5])
    assert len(whole["files"]) == 6
    bad = fz.run("appends", "default.ranges", "--from", ids[4], "--to", ids[1], check=False)
    assert bad.returncode != 0 and "not an ancestor" in bad.stderr


def test_delete_and_compact(fz):
    fz.create_table("default.rw", SIMPLE_SCHEMA, None)
    for c in range(4):
        fz.append("default.rw", [{"offset": o, "writer": "a"} for o in range(c * 5, c * 5 + 5)])
    partial = fz.run("delete-where", "default.rw", "--range", "1::7", check=False)
    assert partial.returncode != 0 and "only some of its rows" in partial.stderr
    d = fz.json("delete-where", "default.rw", "--range", "1::9")
    assert d["summary"]["operation"] == "delete" and d["summary"]["deleted-records"] == "10"
    cat = pyiceberg(fz)
    assert sorted(cat.load_table("default.rw").scan().to_arrow()["offset"].to_pylist()) == list(range(10, 20))
    c = fz.json("compact", "default.rw")
    assert c["summary"]["operation"] == "replace"
    assert c["summary"]["added-data-files"] == "1" and c["summary"]["deleted-data-files"] == "2"
    t = cat.load_table("default.rw")
    assert sorted(t.scan().to_arrow()["offset"].to_pylist()) == list(range(10, 20))
    assert len(t.inspect.files().to_pylist()) == 1
    assert t.current_snapshot().summary["total-records"] == "10"


def check_concurrent_table(fz, ident, expected_offsets):
    snaps = fz.json("snapshots", ident)
    # lineage: a single chain with strictly increasing sequence numbers
    by_id = {s["snapshot_id"]: s for s in snaps}
    chain = []
    cur = json.loads(fz.run("load", ident).stdout)["metadata"]["current-snapshot-id"]
    while cur is not None:
        chain.append(by_id[cur])
        cur = by_id[cur]["parent_snapshot_id"]
    chain.reverse()
    assert len(chain) == len(snaps)
    seqs = [s["sequence_number"] for s in chain]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    scan = fz.json("scan", ident, "--rows")
    paths = [f["path"] for f in scan["files"]]
    assert len(paths) == len(set(paths)), "a data file is listed twice"
    offsets = sorted(r["offset"] for r in scan["rows"])
    assert offsets == expected_offsets
    arrow = pyiceberg(fz).load_table(ident).scan().to_arrow()
    assert sorted(arrow["offset"].to_pylist()) == expected_offsets


def test_two_writer_threads_200_commits_each(fz):
    fz.create_table("default.threads", SIMPLE_SCHEMA, None, "commit.manifest.min-count-to-merge=20")
    out = fz.json("append-loop", "default.threads", "--threads", 2, "--commits", 200)
    assert out["failures"] == 0
    assert out["retries"] > 0  # the threads did race
    assert len(fz.json("snapshots", "default.threads")) == 400
    check_concurrent_table(fz, "default.threads", list(range(400)))


def test_two_writer_processes_200_commits_each(fz):
    fz.create_table("default.procs", SIMPLE_SCHEMA, None)
    procs = [subprocess.Popen(fz.base() + ["append-loop", "default.procs", "--commits", "200", "--start",
                                           str(w * 200), "--writer", f"p{w}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for w in range(2)]
    results = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, err
        assert json.loads(out)["failures"] == 0, err
    assert sum(json.loads(out)["retries"] for out, _ in results) > 0
    assert len(fz.json("snapshots", "default.procs")) == 400
    check_concurrent_table(fz, "default.procs", list(range(400)))


def files_under(root: pathlib.Path):
    return {str(p) for p in root.rglob("*") if p.is_file()}


def test_expire_snapshots_and_remove_orphans(fz):
    fz.create_table("default.maint", SIMPLE_SCHEMA, None)
    ids = [fz.append("default.maint", [{"offset": o, "writer": "m"} for o in range(c * 3, c * 3 + 3)])["snapshot_id"]
           for c in range(8)]
    fz.run("tag", "default.maint", "keep-me", ids[1])
    fz.json("compact", "default.maint")  # leaves the 8 original files referenced only by old snapshots
    cat = pyiceberg(fz)
    before_rows = sorted(cat.load_table("default.maint").scan().to_arrow()["offset"].to_pylist())
    table_dir = fz.warehouse / "default" / "maint"
    before = files_under(table_dir)

    now = int(time.time() * 1000) + 1000
    out = fz.json("expire", "default.maint", "--older-than", now, "--retain-last", 1)
    assert set(out["expired"]) == set(ids) - {ids[1]}  # the tag keeps ids[1]; main keeps the compaction
    after = files_under(table_dir)
    deleted = {p.removeprefix("file://") for p in out["deleted"]}
    assert before - after == deleted, "exactly the listed files are gone"

    # every file the remaining snapshots reference still exists, and no deleted one is referenced
    t = cat.load_table("default.maint")
    referenced = set()
    for s in t.snapshots():
        referenced.add(s.manifest_list.removeprefix("file://"))
        for m in s.manifests(t.io):
            referenced.add(m.manifest_path.removeprefix("file://"))
            for e in m.fetch_manifest_entry(t.io, discard_deleted=True):  # live files only
                referenced.add(e.data_file.file_path.removeprefix("file://"))
    assert not (referenced & deleted)
    assert all(os.path.exists(p) for p in referenced)
    # the files of the tagged snapshot's data survive: PyIceberg still reads it
    assert sorted(t.scan().to_arrow()["offset"].to_pylist()) == before_rows
    assert t.scan(snapshot_id=ids[1]).to_arrow().num_rows == 6
    # the original files of commits 2..7 were live only in expired snapshots
    assert len([p for p in deleted if p.endswith(".parquet")]) == 6
    assert len([p for p in deleted if os.path.basename(p).startswith("snap-")]) == 7

    # orphans: an old unreferenced file goes, a young one and everything referenced stays
    old_orphan = table_dir / "data" / "orphan-old.parquet"
    young_orphan = table_dir / "data" / "orphan-young.parquet"
    old_orphan.write_bytes(b"x")
    young_orphan.write_bytes(b"y")
    past = time.time() - 3600
    os.utime(old_orphan, (past, past))
    cutoff = int((time.time() - 600) * 1000)
    dry = fz.json("remove-orphans", "default.maint", "--older-than", cutoff, "--dry-run")
    assert [p.removeprefix("file://") for p in dry] == [str(old_orphan)]
    assert old_orphan.exists()
    removed = fz.json("remove-orphans", "default.maint", "--older-than", cutoff)
    assert [p.removeprefix("file://") for p in removed] == [str(old_orphan)]
    assert not old_orphan.exists() and young_orphan.exists()
    assert sorted(cat.load_table("default.maint").scan().to_arrow()["offset"].to_pylist()) == before_rows


def test_catalog_operations_and_errors(fz):
    fz.create_table("default.one", SIMPLE_SCHEMA, None)
    again = fz.run("create-table", "default.one", fz.file(SIMPLE_SCHEMA), check=False)
    assert again.returncode != 0 and "already exists" in again.stderr
    missing = fz.run("load", "default.nope", check=False)
    assert missing.returncode != 0 and "does not exist" in missing.stderr
    bad_ns = fz.run("create-table", "nons.t", fz.file(SIMPLE_SCHEMA), check=False)
    assert bad_ns.returncode != 0 and "namespace nons does not exist" in bad_ns.stderr
    bad_name = fz.run("create-namespace", "a..b", check=False)
    assert bad_name.returncode != 0 and "empty" in bad_name.stderr
    fz.run("create-namespace", "ops", "owner=frazil")
    assert fz.json("namespace-properties", "ops") == {"owner": "frazil"}
    assert sorted(fz.json("list-namespaces")) == ["default", "ops"]
    assert sorted(n for (n,) in pyiceberg(fz).list_namespaces()) == ["default", "ops"]
    assert pyiceberg(fz).load_namespace_properties("ops")["owner"] == "frazil"

    fz.append("default.one", [{"offset": 1, "writer": "x"}])
    fz.run("rename-table", "default.one", "ops.renamed")
    assert fz.json("list-tables", "ops") == ["ops.renamed"]
    assert pyiceberg(fz).load_table("ops.renamed").scan().to_arrow().num_rows == 1
    nonempty = fz.run("drop-namespace", "ops", check=False)
    assert nonempty.returncode != 0 and "not empty" in nonempty.stderr

    location = pathlib.Path(fz.json("load", "ops.renamed")["metadata"]["location"].removeprefix("file://"))
    assert any(location.rglob("*.parquet"))
    fz.run("drop-table", "ops.renamed", "--purge")
    assert fz.json("list-tables", "ops") == []
    assert not files_under(location), "purge left files behind"
    fz.run("drop-namespace", "ops")
    # a table PyIceberg drops without purge keeps its files
    fz.create_table("default.keep", SIMPLE_SCHEMA, None)
    fz.append("default.keep", [{"offset": 1, "writer": "x"}])
    fz.run("drop-table", "default.keep")
    assert any((fz.warehouse / "default" / "keep").rglob("*.parquet"))


def test_corrupt_manifest_is_a_clear_error(fz):
    fz.create_table("default.bad", SIMPLE_SCHEMA, None)
    fz.append("default.bad", [{"offset": 1, "writer": "x"}])
    manifests = [p for p in (fz.warehouse / "default" / "bad" / "metadata").glob("*-m*.avro")]
    assert len(manifests) == 1
    data = bytearray(manifests[0].read_bytes())
    manifests[0].write_bytes(bytes(data[: len(data) // 2]))
    out = fz.run("scan", "default.bad", check=False)
    assert out.returncode == 1
    assert "manifest" in out.stderr and manifests[0].name in out.stderr
    metadata = sorted((fz.warehouse / "default" / "bad" / "metadata").glob("*.metadata.json"))[-1]
    metadata.write_text("{not json")
    out = fz.run("load", "default.bad", check=False)
    assert out.returncode == 1 and "not valid JSON" in out.stderr
