"""Issue 11: PyIceberg (0.12, SqlCatalog `frazil` on DATA_DIR/catalog.db) as
the second engine that writes, doing what it can of Spark's operations while
`frazil serve` keeps producing: set properties, add a column, append
foreign rows, delete them (PyIceberg's delete is copy-on-write), expire
snapshots (PyIceberg removes them from the metadata only). After each, the
invariants of shared_tables.py.
"""
import datetime
import time

import pyarrow as pa
import pytest
from pyiceberg.exceptions import CommitFailedException, ValidationException
from pyiceberg.types import StringType

import shared_tables as st

FOREIGN = "pyiceberg-foreign"


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    b = st.start_shared_broker(tmp_path_factory.mktemp("shared-pyiceberg"))
    yield b
    print(f"broker log: {b.log_path}")
    b.kill()


@pytest.fixture
def topic(broker):
    yield from st.topic_factory(broker)


def retry_conflicts(t, fn, what, attempts=6):
    """fn(table) on a freshly loaded table, again when the broker committed
    in between. PyIceberg retries a conflict by itself from the snapshot it
    started on; when the broker's upkeep expired that snapshot meanwhile
    (this module's broker expires snapshots older than 4 s), that retry
    fails with "Cannot find starting snapshot": start again from a fresh
    load, as a client must."""
    for k in range(attempts):
        try:
            return fn(t.table())
        except (CommitFailedException, ValidationException) as e:
            if isinstance(e, ValidationException) and "Cannot find starting snapshot" not in str(e):
                raise
            if k + 1 == attempts:
                raise
            print(f"{what}: attempt {k + 1} lost a commit race: {e}")
            time.sleep(0.5)


def foreign_rows(table, offsets):
    schema = table.schema().as_arrow()
    now = datetime.datetime.now(datetime.timezone.utc)
    rows = []
    for o in offsets:
        row = {f.name: None for f in schema}
        row.update({"offset": o, "publish_time": now, "producer_name": FOREIGN,
                    "payload": b"foreign-%d" % o if o is not None else b"foreign-null"})
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=schema)


def append_foreign(t, offsets):
    retry_conflicts(t, lambda table: table.append(foreign_rows(table, offsets)), "append")


def test_pyiceberg_set_properties(topic):
    t = topic("pyprops")
    mark = st.log_mark(t.broker)

    def op(table):
        with table.transaction() as tx:
            tx.set_properties({"owner.team": "analytics"})

    retry_conflicts(t, op, "set_properties")
    assert t.table().properties.get("owner.team") == "analytics"
    st.check_invariants(t, "PyIceberg set_properties", mark)


def test_pyiceberg_add_optional_column(topic):
    t = topic("pyaddcol")
    mark = st.log_mark(t.broker)

    def op(table):
        with table.update_schema() as u:
            u.add_column("note", StringType(), doc="added by PyIceberg")

    retry_conflicts(t, op, "add_column")
    assert "note" in [f.name for f in t.table().schema().fields]
    st.check_invariants(t, "PyIceberg add_column note string", mark)


def test_pyiceberg_append_foreign_rows(topic):
    t = topic("pyappend")
    mark = st.log_mark(t.broker)
    append_foreign(t, [900000000, 900000001, 5])
    # offset is required: PyIceberg refuses a NULL offset before writing anything
    with pytest.raises(Exception) as refused:
        append_foreign(t, [None])
    print(f"NULL offset refused by PyIceberg: {str(refused.value).splitlines()[0][:200]}")
    time.sleep(5)  # the broker's compaction runs over the foreign file meanwhile
    st.check_invariants(t, "PyIceberg append of foreign rows at 900000000, 900000001 and 5", mark, FOREIGN, 3)


def test_pyiceberg_delete_foreign_rows(topic):
    t = topic("pydelete")
    append_foreign(t, [900000000, 900000001, 7])
    time.sleep(5)
    mark = st.log_mark(t.broker)
    retry_conflicts(t, lambda table: table.delete(f"producer_name == '{FOREIGN}'"), "delete")
    st.check_invariants(t, "PyIceberg append then delete of the foreign rows", mark, FOREIGN, 0)


def test_pyiceberg_expire_snapshots(topic):
    t = topic("pyexpire")
    mark = st.log_mark(t.broker)
    now = datetime.datetime.now(datetime.timezone.utc)
    retry_conflicts(t, lambda table: table.maintenance.expire_snapshots().older_than(now).commit(), "expire")
    st.check_invariants(t, "PyIceberg expire_snapshots older_than now", mark)
