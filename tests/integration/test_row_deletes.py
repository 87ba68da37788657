"""Row-level deletes as other engines write them: delete files written by
pyarrow (not by Frazil), registered in a table Frazil wrote. Frazil's scan
and PyIceberg's must agree on which rows are left, and Frazil's own appends
keep the deletes. Frazil is driven through build/catalog_tool."""
import pyarrow as pa
import pyarrow.parquet as pq

from test_iceberg_tables import envelope, fz, pyiceberg  # noqa: F401  (fz is a fixture)

FILE_PATH_ID = 2147483546
POS_ID = 2147483545


def field(name, type_, field_id, nullable=False):
    return pa.field(name, type_, nullable=nullable, metadata={b"PARQUET:field_id": str(field_id).encode()})


def write_position_deletes(path, rows):
    schema = pa.schema([field("file_path", pa.string(), FILE_PATH_ID), field("pos", pa.int64(), POS_ID)])
    rows = sorted(rows)
    pq.write_table(pa.table({"file_path": [r[0] for r in rows], "pos": [r[1] for r in rows]}, schema=schema),
                   path)


def write_key_deletes(path, keys):
    schema = pa.schema([field("key", pa.string(), 3, nullable=True)])
    pq.write_table(pa.table({"key": keys}, schema=schema), path)


def scan(fz):
    out = fz.json("scan", "default.events", "--rows")
    return out["files"], sorted(r["offset"] for r in out["rows"])


def test_deletes_from_other_engines_apply_and_survive_our_writes(fz):
    fz.create_table("default.events")
    fz.append("default.events", [envelope(i) for i in range(0, 10)])
    fz.append("default.events", [envelope(i, day=1) for i in range(10, 20)])
    files, offsets = scan(fz)
    assert offsets == list(range(20))
    # Where each offset is: (data file, row position in it); scan lists rows file by file.
    rows = fz.json("scan", "default.events", "--rows")["rows"]
    where, i = {}, 0
    for f in files:
        for pos in range(f["record_count"]):
            where[rows[i]["offset"]] = (f["path"], pos, f["partition"])
            i += 1

    # Position deletes of offsets 2 and 7 (day 0) and 13 (day 1), one file per partition.
    data_dir = fz.warehouse / "default" / "events" / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    deletes = []
    for day, doomed in ((0, [2, 7]), (1, [13])):
        path = data_dir / f"pos-{day}.parquet"
        write_position_deletes(path, [where[o][:2] for o in doomed])
        deletes.append({"path": f"file://{path}", "content": "position", "record_count": len(doomed),
                        "partition": where[doomed[0]][2]})
    fz.json("add-deletes", "default.events", fz.file(deletes))

    files, offsets = scan(fz)
    expected = [o for o in range(20) if o not in (2, 7, 13)]
    assert offsets == expected
    assert all(len(f["deletes"]) == 1 for f in files)
    # PyIceberg applies the same deletes.
    t = pyiceberg(fz).load_table("default.events")
    assert sorted(t.scan().to_arrow()["offset"].to_pylist()) == expected
    assert t.current_snapshot().summary["operation"].value == "delete"

    # An equality delete (Flink's kind) on key "k1" in day 0: offsets 1, 4, 7.
    eq = data_dir / "eq-0.parquet"
    write_key_deletes(eq, ["k1"])
    fz.json("add-deletes", "default.events",
            fz.file([{"path": f"file://{eq}", "content": "equality", "record_count": 1, "equality_ids": [3],
                      "partition": where[0][2]}]))
    expected = [o for o in expected if o not in (1, 4)]
    assert scan(fz)[1] == expected

    # Our append carries the delete manifests; the deletes do not touch its rows.
    fz.append("default.events", [envelope(i) for i in range(20, 25)])
    expected += list(range(20, 25))
    files, offsets = scan(fz)
    assert offsets == expected
    summary = fz.json("snapshots", "default.events")[-1]["summary"]
    assert summary["operation"] == "append" and summary["total-delete-files"] == "3"
