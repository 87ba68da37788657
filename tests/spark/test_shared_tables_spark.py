"""Issue 11: a real second engine that writes. Apache Spark 3.5 with the
Iceberg Spark runtime works on topic tables through an Iceberg JDBC catalog
on the broker's own DATA_DIR/catalog.db while `frazil serve` keeps producing
and runs its own commits, compaction and expiry. After every Spark operation
the invariants of shared_tables.py hold: every acknowledged offset is in the
table once, the broker keeps committing, a new subscription from earliest
replays every offset in order, and the broker shows no lasting error.

Spark's catalog (found by trying): SparkCatalog `frazil`, type jdbc,
uri jdbc:sqlite:DATA_DIR/catalog.db, jdbc.schema-version V1 (PyIceberg's
SqlCatalog tables have the iceberg_type column of V1), warehouse
file://DATA_DIR/warehouse. The catalog name must be `frazil`: it is the
catalog_name of the rows.

Needs scripts/setup-spark.sh (pyspark in .venv, jars in .spark/jars);
run by `scripts/run-tests.sh spark`.
"""
import os
import subprocess
import time

import pyarrow.parquet as pq
import pytest

import shared_tables as st
import test_topic_storage as ts
from conftest import REPO

FOREIGN = "spark-foreign"


def spark_jars():
    jars = os.environ.get("FRAZIL_SPARK_JARS")
    if jars:
        return jars
    out = subprocess.run([str(REPO / "scripts" / "setup-spark.sh")], check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    b = st.start_shared_broker(tmp_path_factory.mktemp("shared-spark"))
    yield b
    print(f"broker log: {b.log_path}")
    b.kill()


@pytest.fixture(scope="module")
def spark(broker):
    from pyspark.sql import SparkSession

    data = broker.data_dir.resolve()
    s = (SparkSession.builder.master("local[2]").appName("frazil-shared-tables")
         .config("spark.jars", spark_jars())
         .config("spark.sql.extensions", "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions")
         .config("spark.sql.catalog.frazil", "org.apache.iceberg.spark.SparkCatalog")
         .config("spark.sql.catalog.frazil.type", "jdbc")
         .config("spark.sql.catalog.frazil.uri", f"jdbc:sqlite:{data}/catalog.db")
         .config("spark.sql.catalog.frazil.jdbc.schema-version", "V1")
         .config("spark.sql.catalog.frazil.warehouse", f"file://{data}/warehouse")
         # every read sees the catalog's current snapshot, not a cached one
         .config("spark.sql.catalog.frazil.cache-enabled", "false")
         .config("spark.sql.shuffle.partitions", "2")
         .config("spark.default.parallelism", "2")
         .config("spark.sql.session.timeZone", "UTC")
         .config("spark.ui.enabled", "false")
         .config("spark.driver.memory", "1g")
         .getOrCreate())
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()


@pytest.fixture
def topic(broker):
    yield from st.topic_factory(broker)


def retry_conflicts(fn, what, attempts=6):
    """Runs a Spark operation again when it lost a race with the broker, as a
    user would: another writer committed in between, the broker's expiry
    deleted a manifest list of the snapshots Spark had loaded, or it expired
    the snapshot Spark's write started from (this suite expires snapshots
    after 4 s), so Iceberg's validation cannot find it among the current
    snapshot's ancestors."""
    for k in range(attempts):
        try:
            return fn()
        except Exception as e:  # noqa: BLE001
            text = str(e)
            if k + 1 < attempts and any(w in text for w in ("CommitFailedException", "ValidationException",
                                                            "Cannot commit", "conflict", "NotFoundException",
                                                            "is not an ancestor of")):
                print(f"{what}: attempt {k + 1} lost a commit race: {text.splitlines()[0][:300]}")
                time.sleep(1)
                continue
            raise


def sql(spark, text):
    return retry_conflicts(lambda: spark.sql(text).collect(), text)


def insert_foreign(spark, t, offsets, payload_tag="foreign"):
    """Spark INSERT of rows named FOREIGN at the given offsets (SQL
    expressions), every other column filled by its type."""
    exprs = []
    for f in spark.table(t.spark_name).schema.fields:
        n = f.name
        if n == "offset":
            exprs.append("o AS `offset`")
        elif n == "publish_time":
            exprs.append("current_timestamp() AS publish_time")
        elif n == "producer_name":
            exprs.append(f"'{FOREIGN}' AS producer_name")
        elif n == "payload":
            exprs.append(f"CAST(concat('{payload_tag}-', CAST(o AS STRING)) AS BINARY) AS payload")
        elif f.nullable:
            exprs.append(f"CAST(NULL AS {f.dataType.simpleString()}) AS `{n}`")
        elif f.dataType.simpleString().startswith("map"):
            exprs.append(f"CAST(map() AS {f.dataType.simpleString()}) AS `{n}`")
        else:
            exprs.append(f"CAST(0 AS {f.dataType.simpleString()}) AS `{n}`")
    values = ", ".join(f"({o})" for o in offsets)
    sql(spark, f"INSERT INTO {t.spark_name} SELECT {', '.join(exprs)} FROM VALUES {values} AS v(o)")


def utc_literal(epoch_s):
    return "TIMESTAMP '" + time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch_s)) + "'"


# ---------------------------------------------------------------- schema and properties

def test_spark_set_tblproperties(spark, topic):
    t = topic("props")
    mark = st.log_mark(t.broker)
    sql(spark, f"ALTER TABLE {t.spark_name} SET TBLPROPERTIES ('owner.team'='analytics', 'comment'='shared')")
    assert t.table().properties.get("owner.team") == "analytics"
    st.check_invariants(t, "ALTER TABLE SET TBLPROPERTIES", mark)


def test_spark_sets_the_parquet_codec_the_broker_writes(spark, topic):
    """write.parquet.compression-codec set by Spark: the broker's next data
    files (and its compactions) are written with that codec."""
    t = topic("codec")
    mark = st.log_mark(t.broker)
    sql(spark, f"ALTER TABLE {t.spark_name} SET TBLPROPERTIES ('write.parquet.compression-codec'='snappy')")
    altered = {s.snapshot_id for s in t.table().snapshots()}
    st.check_invariants(t, "ALTER TABLE SET TBLPROPERTIES write.parquet.compression-codec", mark)
    # A commit the broker began before the ALTER may land after it with the
    # files it had written: judge the commits after the first new one.
    deadline = time.monotonic() + 30
    while True:
        table = t.table()
        later = [s for s in table.snapshots() if s.snapshot_id not in altered]
        if len(later) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(later) >= 3, f"the broker made {len(later)} snapshots after the ALTER"
    codecs = {}
    for s in later[1:]:
        for m in s.manifests(table.io):
            if m.added_snapshot_id != s.snapshot_id:
                continue
            for e in m.fetch_manifest_entry(table.io, discard_deleted=True):
                meta = pq.ParquetFile(st.local_path(e.data_file.file_path)).metadata
                codecs[e.data_file.file_path] = {meta.row_group(g).column(c).compression
                                                 for g in range(meta.num_row_groups)
                                                 for c in range(meta.num_columns)}
    assert codecs, "no data file added after the ALTER"
    assert all(c == {"SNAPPY"} for c in codecs.values()), codecs


def test_spark_add_optional_column(spark, topic):
    t = topic("addcol")
    mark = st.log_mark(t.broker)
    sql(spark, f"ALTER TABLE {t.spark_name} ADD COLUMN note string COMMENT 'added by Spark'")
    assert "note" in [f.name for f in t.table().schema().fields]
    st.check_invariants(t, "ALTER TABLE ADD COLUMN note string", mark)


# ---------------------------------------------------------------- foreign rows

def test_spark_insert_foreign_rows(spark, topic):
    t = topic("insert")
    mark = st.log_mark(t.broker)
    # new offsets far above the broker's, and a duplicate of committed offset 5
    insert_foreign(spark, t, [900000000, 900000001, 5])
    rows = 3
    # offset is required: Spark refuses a NULL offset before writing anything
    with pytest.raises(Exception) as refused:
        insert_foreign(spark, t, ["CAST(NULL AS BIGINT)"])
    print(f"NULL offset refused by Spark: {str(refused.value).splitlines()[0][:200]}")
    n = spark.sql(f"SELECT count(*) FROM {t.spark_name} WHERE producer_name = '{FOREIGN}'").collect()[0][0]
    assert n == rows
    time.sleep(5)  # the broker's compaction runs over the foreign file meanwhile
    st.check_invariants(t, "INSERT of foreign rows at 900000000, 900000001 and 5", mark, FOREIGN, rows)


def test_spark_delete_foreign_rows_copy_on_write(spark, topic):
    t = topic("delcow")
    insert_foreign(spark, t, [900000000, 900000001, 7])
    time.sleep(5)  # the broker's compaction may merge them into its own files
    mark = st.log_mark(t.broker)
    sql(spark, f"DELETE FROM {t.spark_name} WHERE producer_name = '{FOREIGN}'")
    st.check_invariants(t, "INSERT then copy-on-write DELETE of the foreign rows", mark, FOREIGN, 0)


def test_spark_delete_foreign_rows_merge_on_read(spark, topic):
    t = topic("delmor")
    sql(spark, f"ALTER TABLE {t.spark_name} SET TBLPROPERTIES ('write.delete.mode'='merge-on-read')")
    insert_foreign(spark, t, [900000000, 900000001, 900000002, 9])
    time.sleep(5)
    mark = st.log_mark(t.broker)
    # 900000002 stays: a DELETE that matches a whole file drops the file
    # instead of writing position deletes
    sql(spark, f"DELETE FROM {t.spark_name} WHERE producer_name = '{FOREIGN}' AND `offset` <> 900000002")
    deletes = [s.summary.additional_properties for s in t.table().snapshots()
               if s.summary and int(s.summary.additional_properties.get("added-delete-files", "0")) > 0]
    assert deletes, "Spark's merge-on-read DELETE wrote no delete file"
    st.check_invariants(t, "INSERT of 4 foreign rows then merge-on-read DELETE (position deletes) of 3", mark,
                        FOREIGN, 1)


# ---------------------------------------------------------------- rewrites

def rewrite(spark, t, extra=""):
    rows = sql(spark, f"CALL frazil.system.rewrite_data_files(table => '{t.ident}'{extra}, "
                      f"options => map('min-input-files', '1', 'rewrite-all', 'true'))")
    r = rows[0].asDict()
    print(f"rewrite_data_files{extra}: {r}")
    assert r["rewritten_data_files_count"] > 0, r
    return r


def test_spark_rewrite_data_files_bin_pack(spark, topic):
    t = topic("binpack")
    mark = st.log_mark(t.broker)
    rewrite(spark, t)
    st.check_invariants(t, "rewrite_data_files bin-pack", mark)


def test_spark_rewrite_data_files_sort_by_offset(spark, topic):
    t = topic("sortoffset")
    mark = st.log_mark(t.broker)
    rewrite(spark, t, ", strategy => 'sort', sort_order => 'offset ASC NULLS LAST'")
    st.check_invariants(t, "rewrite_data_files sort by offset ASC", mark)


def test_spark_rewrite_data_files_sort_by_payload_desc(spark, topic):
    # files whose rows are NOT in offset order (payloads grow with the offset)
    t = topic("sortpayload")
    mark = st.log_mark(t.broker)
    rewrite(spark, t, ", strategy => 'sort', sort_order => 'payload DESC NULLS LAST'")
    st.check_invariants(t, "rewrite_data_files sort by payload DESC", mark)


def test_spark_rewrite_data_files_sort_by_producer_name_desc(spark, topic):
    t = topic("sortname")
    mark = st.log_mark(t.broker)
    rewrite(spark, t, ", strategy => 'sort', sort_order => 'producer_name DESC NULLS LAST'")
    st.check_invariants(t, "rewrite_data_files sort by producer_name DESC", mark)


# ---------------------------------------------------------------- expiry and orphans

def test_spark_expire_snapshots(spark, topic):
    t = topic("expire")
    rewrite(spark, t)  # so that expiry has replaced data files to delete
    mark = st.log_mark(t.broker)
    rows = sql(spark, f"CALL frazil.system.expire_snapshots(table => '{t.ident}', "
                      f"older_than => {st_now()}, retain_last => 1)")
    print(f"expire_snapshots: {rows[0].asDict()}")
    st.check_invariants(t, "expire_snapshots(retain_last 1, older_than now)", mark)


def st_now():
    return utc_literal(time.time() + 1)


def test_spark_remove_orphan_files(spark, topic):
    t = topic("orphans")
    planted = st.plant_old_orphan(t, "a")
    mark = st.log_mark(t.broker)
    # the procedure refuses an older_than less than 24 hours ago
    rows = sql(spark, f"CALL frazil.system.remove_orphan_files(table => '{t.ident}', "
                      f"older_than => {utc_literal(time.time() - 25 * 3600)})")
    removed = [r["orphan_file_location"] for r in rows]
    print(f"remove_orphan_files (procedure) removed {removed}")
    assert any(x.endswith(planted.name) for x in removed) and not planted.exists(), removed
    # Iceberg's action API takes any age: older than 5 s ago, not now, as the
    # broker's commit in flight has young files that no snapshot lists yet
    planted = st.plant_old_orphan(t, "b")
    jvm, js = spark._jvm, spark._jsparkSession

    def action():
        table = jvm.org.apache.iceberg.spark.Spark3Util.loadIcebergTable(js, t.spark_name)
        return (jvm.org.apache.iceberg.spark.actions.SparkActions.get(js).deleteOrphanFiles(table)
                .olderThan(int((time.time() - 5) * 1000)).execute())

    result = retry_conflicts(action, "deleteOrphanFiles")
    it, removed = result.orphanFileLocations().iterator(), []
    while it.hasNext():
        removed.append(str(it.next()))
    print(f"deleteOrphanFiles (action, older than 5 s) removed {removed}")
    assert any(x.endswith(planted.name) for x in removed) and not planted.exists(), removed
    st.check_invariants(t, "remove_orphan_files (older than 25 h), then deleteOrphanFiles older than 5 s", mark)


# ---------------------------------------------------------------- sidecars (item 7)

def test_no_crc_sidecar_outlives_the_file_the_broker_expired(spark, topic):
    """Spark (Hadoop's local file system) writes a hidden `.NAME.crc` beside
    every file it writes. Once the broker's own expiry has deleted Spark's
    snapshots and their files, none of those sidecars may stay behind."""
    t = topic("sidecars")
    insert_foreign(spark, t, [900000000, 900000001])
    sql(spark, f"DELETE FROM {t.spark_name} WHERE producer_name = '{FOREIGN}'")
    crcs = sorted(p.name for p in t.table_dir().rglob(".*.crc"))
    assert crcs, "Spark wrote no .crc sidecar"
    mark = st.log_mark(t.broker)

    def spark_snapshots():
        return [s.snapshot_id for s in t.table().snapshots() if s.summary and "spark.app.id" in s.summary.additional_properties]

    deadline = time.monotonic() + 45
    while spark_snapshots() and time.monotonic() < deadline:
        time.sleep(1)
    left = spark_snapshots()
    assert not left, f"the broker's expiry (snapshots older than 4 s) did not expire Spark's snapshots {left} " \
                     f"in 45 s\n{st.new_problem_lines(t.broker, mark, t.ident)}"
    # Their files are deleted once the broker's grace (expired_files_grace_ms,
    # 20 s) has passed: until then they stay, sidecars with them.
    # (Metadata files are not expiry's: the broker's commits drop them from the log.)
    owners = [c.parent / c.name[1:-len(".crc")] for c in t.table_dir().rglob(".*.crc")
              if not c.name.endswith(".metadata.json.crc")]

    def waiting():
        refs = {st.local_path(r).resolve() for r in st.referenced_files(t.table())}
        return [o for o in owners if o.exists() and o.resolve() not in refs]

    deadline = time.monotonic() + 45
    while waiting() and time.monotonic() < deadline:
        time.sleep(1)
    assert not waiting(), f"files of expired snapshots still there 45 s later: {waiting()[:5]}\n" \
                          f"{st.new_problem_lines(t.broker, mark, t.ident)}"
    stale = st.stale_sidecars(t.table_dir())
    assert not stale, f"{len(stale)} .crc sidecars of deleted files stay: {stale[:10]}"
    st.check_invariants(t, "the broker's expiry of Spark's snapshots", mark, FOREIGN, 0)


# ---------------------------------------------------------------- the broker's orphan removal (last)

def test_broker_orphan_removal_keeps_every_file_spark_wrote(broker, spark, tmp_path):
    """Runs last: restarts the broker on the same data directory with orphans
    older than 1 s removable (it removes orphans on start). Every file that a
    table's current metadata references, in whatever location form Spark
    wrote it, must still be there afterwards; .crc sidecars of files that are
    gone must not be."""
    assert broker.stop() == 0
    cfg = tmp_path / "orphans.yaml"
    cfg.write_text(st.SHARED_CONFIG.replace("orphan_min_age_ms: 691200000", "orphan_min_age_ms: 1000"))
    b = st.Broker(broker.data_dir, tmp_path / "frazil-restarted.log", ["--config", str(cfg)])
    try:
        b.wait_healthy(timeout=30)
        time.sleep(8)  # the orphan removal on start, and a maintenance pass or two
        cat = ts.open_catalog(b.data_dir)
        missing, stale, errors = {}, {}, {}
        for ident in cat.list_tables("default"):
            name = ".".join(ident)
            try:
                table = cat.load_table(name)
                refs = st.referenced_files(table)
            except Exception as e:  # noqa: BLE001  (reported below)
                errors[name] = f"{type(e).__name__}: {str(e)[:300]}"
                continue
            gone = [r for r in refs if not st.local_path(r).exists()]
            if gone:
                missing[name] = gone
            left = st.stale_sidecars(b.data_dir.resolve() / "warehouse" / "default" / ident[1])
            if left:
                stale[name] = left
        problems = []
        if errors:
            problems.append(f"tables PyIceberg could not read: {errors}")
        if missing:
            problems.append("files referenced by the current metadata deleted: " +
                            "; ".join(f"{k}: {len(v)}, e.g. {v[:2]}" for k, v in missing.items()))
        if stale:
            problems.append(".crc sidecars of files that are gone: " +
                            "; ".join(f"{k}: {len(v)}, e.g. {v[:2]}" for k, v in stale.items()))
        lines = "\n".join(ln for ln in b.log().splitlines() if "orphan" in ln)[-3000:]
        assert not problems, "\n".join(problems) + f"\nbroker's orphan lines:\n{lines}"
    finally:
        b.kill()
