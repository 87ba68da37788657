"""Issue 14: PyIceberg and `frazil serve` committing to the same topic table
through the same catalog server, at once: Apache Iceberg's REST catalog
server (build/tools/frazil-rest-catalog), and Glue on moto with Glue's
VersionId rule (strict_glue_moto.py: moto alone accepts any VersionId, so
racing writers would overwrite each other there, which Glue never allows).

While a producer publishes to the topic and the broker commits every 100 ms,
PyIceberg (RestCatalog / GlueCatalog on the same server) appends rows to
the table, in the table's own schema, and sets table properties, round
after round. Then:
- conflicts were retried on both sides: the broker's
  frazil_storage_commit_conflicts_total, PyIceberg's own retry warnings (its
  appends) and this test's retries of PyIceberg's property changes (PyIceberg
  retries only snapshot commits); on Glue, moto refused stale VersionIds;
- nothing lost, nothing twice: every acknowledged offset is in the table
  exactly once with its payload, `frazil.committed-offset` is one past the
  highest, every PyIceberg row is there once;
- `frazil.committed-offset` kept advancing while PyIceberg committed;
- no commit clobbered the other's properties;
- PyIceberg's rows are foreign rows (docs/formats/topic-tables.md,
  "Ownership"): outside the broker's offsets, never replayed. Half of
  PyIceberg's appends hold offsets beyond the topic only (a file "holds no
  offset the broker committed", logged and not read), half also a negative
  offset (a file spanning the topic's offsets, read, its foreign rows
  skipped and counted in frazil_replay_foreign_rows_total). A new
  subscription from the earliest message, replayed from the table (the WAL
  keeps nothing below the committed offset), gets offsets 0..N in order,
  once each, with the acknowledged payloads.
"""
import asyncio
import collections
import datetime
import logging
import re
import threading
import time

import pyarrow as pa
import pytest
from pyiceberg.exceptions import CommitFailedException, ValidationException

import test_topic_storage as ts
from catalogs import RestServer
from conftest import free_port, http_get
from glue_helpers import MotoServer, glue_catalog_yaml, pyiceberg_glue_catalog

TOPIC, IDENT = "/default/shared", "default.shared"
OWN = "frazil-producer"
FOREIGN = "pyiceberg-shared"
FOREIGN_BASE = 900_000_000  # far beyond what the topic reaches here
MIN_ROUNDS, MIN_SECONDS = 10, 8  # at least, and until both sides have lost a race
MAX_SECONDS = 240

CONFIG = """\
wal:
  sync_mode: none
  # small segments, reclaimed once committed: replay reads the table
  segment_bytes: 8192
storage:
  flush_interval_ms: 100
  wal_retain_records: 0
  # upkeep (expiry, compaction) commits too, and keeps the metadata small:
  # PyIceberg reads all of it at every attempt, and an attempt that takes
  # longer than the broker's commit interval would rarely win a race
  maintenance_interval_ms: 2000
  snapshot_max_age_ms: 10000
"""


class Server:
    def __init__(self, kind, tmp_path):
        self.kind = kind
        if kind == "rest":
            self.server = RestServer(tmp_path / "rest.log", free_port(), tmp_path / "rest-warehouse")
            self.yaml = f"catalog:\n  type: rest\n  uri: {self.server.uri}\n"
        else:
            self.server = MotoServer(tmp_path / "moto.log", free_port(), strict=True)
            self.yaml = glue_catalog_yaml(self.server.endpoint)

    def pyiceberg(self):
        if self.kind == "rest":
            from pyiceberg.catalog.rest import RestCatalog
            return RestCatalog("rest", uri=self.server.uri)
        return pyiceberg_glue_catalog(self.server.endpoint)

    def refused_updates(self):
        """Glue: the UpdateTable calls moto refused for a stale VersionId, by
        client (PyIceberg's boto3 or the broker)."""
        lines = [ln for ln in self.server.log_path.read_text().splitlines() if ln.startswith("strict-glue: refused")]
        boto = sum("Boto3/" in ln or "Botocore/" in ln for ln in lines)
        return boto, len(lines) - boto

    def stop(self):
        self.server.stop()


@pytest.fixture(params=[pytest.param("rest", marks=pytest.mark.rest), pytest.param("glue", marks=pytest.mark.glue)])
def server(request, tmp_path):
    s = Server(request.param, tmp_path)
    yield s
    s.stop()


class Producer:
    """Sends to the topic from a thread of its own until stopped, 10 sends at
    a time; keeps every acknowledged offset's payload."""

    def __init__(self, broker):
        self.broker = broker
        self.lock = threading.Lock()
        self.sent = {}
        self.errors = []
        self.crash = None
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.thread.start()

    def _main(self):
        try:
            asyncio.run(self._run())
        except BaseException as e:  # noqa: BLE001  (asserted by the test)
            self.crash = f"{type(e).__name__}: {e}"

    async def _run(self):
        p = ts.RawProducer(self.broker.listen_port, TOPIC, OWN)
        await p.create()
        i = 0
        while not self.stopping.is_set():
            payloads = [b"shared #%07d \x00\xff" % k + b"x" * (k % 50) for k in range(i, i + 10)]
            i += 10
            results = await asyncio.gather(*[p.send(x, timeout=15) for x in payloads], return_exceptions=True)
            with self.lock:
                for x, r in zip(payloads, results):
                    if isinstance(r, Exception):
                        self.errors.append(repr(r)[:300])
                    else:
                        assert r not in self.sent, f"offset {r} acknowledged twice"
                        self.sent[r] = x
            await asyncio.sleep(0.05)
        await p.close()

    def snapshot(self):
        with self.lock:
            return dict(self.sent)

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=60)
        assert not self.thread.is_alive(), "producer did not stop"


class PyIcebergRetries(logging.Handler):
    """Counts PyIceberg's own retries of a commit that lost a race."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record):
        if "Commit failed due to a concurrent update, retrying" in record.getMessage():
            self.count += 1


def metric(broker, name):
    status, text = http_get(broker.http_port, "/metrics", timeout=10)
    assert status == 200
    m = re.search(r'^%s(\{[^}]*topic="%s"[^}]*\})? (\S+)$' % (re.escape(name), re.escape(TOPIC)), text, re.M)
    return float(m.group(2)) if m else 0.0


def first_divergence(offsets, n):
    for k, o in enumerate(offsets):
        if o != k:
            return f"{len(offsets)} offsets, want {n}; at position {k}: offset {o} " \
                   f"(around: {offsets[max(0, k - 3):k + 4]})"
    return f"{len(offsets)} offsets, want {n} (tail: {offsets[-5:]})"


def foreign_rows(table, offsets):
    """Rows in the table's current schema (whatever columns it has), marked
    as PyIceberg's by producer_name."""
    schema = table.schema().as_arrow()
    now = datetime.datetime.now(datetime.timezone.utc)
    rows = []
    for o in offsets:
        row = {f.name: None for f in schema}
        row.update({"offset": o, "publish_time": now, "producer_name": FOREIGN, "payload": b"py-%d" % o})
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=schema)


def test_pyiceberg_and_the_broker_commit_to_one_table(server, tmp_path, start_broker):
    cfg = tmp_path / "frazil.yaml"
    cfg.write_text(server.yaml + CONFIG)
    b = start_broker(extra_args=["--config", str(cfg)])
    b.wait_healthy(timeout=30)
    producer = Producer(b)
    py_retries = PyIcebergRetries()
    pylog = logging.getLogger("pyiceberg.table")
    pylog.addHandler(py_retries)
    try:
        cat = server.pyiceberg()
        ts.poll(lambda: ts.committed_of(ts.load_table_or_none(cat, IDENT)) >= 100, 60,
                f"the broker's first commits of {IDENT}")

        app_retries = 0

        def commit(what, fn, attempts=30):
            """fn(freshly loaded table). PyIceberg retries an append that lost
            a race itself; a property change it does not retry: this does,
            from a fresh load, as any client of a busy table must."""
            nonlocal app_retries
            for k in range(attempts):
                try:
                    return fn(cat.load_table(IDENT))
                except (CommitFailedException, ValidationException) as e:
                    # PyIceberg's own retries start from the snapshot it
                    # loaded; when the broker's upkeep expired it meanwhile,
                    # that fails with "Cannot find starting snapshot".
                    if isinstance(e, ValidationException) and "Cannot find starting snapshot" not in str(e):
                        raise
                    assert k + 1 < attempts, f"{what}: lost {attempts} commit races in a row: {e}"
                    app_retries += 1
                    time.sleep(0.05)

        # The table's commit.retry.* settings are Iceberg's, read by every
        # writer: the default 4 retries are not enough when the other side
        # commits about 10 times a second.
        def set_retries(t):
            with t.transaction() as tx:
                tx.set_properties({"commit.retry.num-retries": "40", "commit.retry.min-wait-ms": "20",
                                   "commit.retry.max-wait-ms": "200"})
        commit("setting commit.retry.*", set_retries)

        appended = []  # foreign offsets, in the order PyIceberg committed them
        straddling = 0  # appends whose file spans the topic's offsets
        committed_seen = []
        conflicts = 0.0
        rounds = 0
        started = time.monotonic()
        deadline = started + MAX_SECONDS
        while True:
            k = rounds
            rounds += 1
            offsets = [FOREIGN_BASE + 2 * k, FOREIGN_BASE + 2 * k + 1]
            if k % 2:
                offsets[1] = -1 - k  # with a negative offset: the file's bounds span the topic's offsets
                straddling += 1
            commit(f"append {offsets}", lambda t: t.append(foreign_rows(t, offsets)))
            appended += offsets

            def set_props(t):
                with t.transaction() as tx:
                    tx.set_properties({"pyiceberg.round": str(k), f"pyiceberg.prop-{k}": "set"})
            commit(f"set properties of round {k}", set_props)
            committed_seen.append(ts.committed_of(cat.load_table(IDENT)))
            conflicts = metric(b, "frazil_storage_commit_conflicts_total")
            if rounds >= MIN_ROUNDS and time.monotonic() - started >= MIN_SECONDS and conflicts > 0 and \
                    py_retries.count + app_retries > 0:
                break
            assert time.monotonic() < deadline, \
                f"after {rounds} rounds in {MAX_SECONDS} s: the broker lost {conflicts:.0f} commit races, " \
                f"PyIceberg {py_retries.count + app_retries}; committed offsets seen {committed_seen}"
            assert producer.crash is None, producer.crash
            assert b.proc.poll() is None, f"broker exited:\n{b.log()[-3000:]}"
        print(f"{server.kind}: {rounds} PyIceberg rounds in {time.monotonic() - started:.1f} s; the broker's "
              f"conflicts {conflicts:.0f}, PyIceberg's retries {py_retries.count} (appends) + {app_retries} "
              f"(properties); committed offsets seen {committed_seen}")
        if server.kind == "glue":
            boto, other = server.refused_updates()
            print(f"glue: moto refused {boto} UpdateTable calls of PyIceberg and {other} of the broker")

        producer.stop()
        assert producer.crash is None, producer.crash
        assert not producer.errors, f"{len(producer.errors)} sends failed: {producer.errors[:3]}"
        sent = producer.snapshot()
        n = max(sent) + 1
        assert sorted(sent) == list(range(n)), "the acknowledged offsets are not 0..N-1"
        table = ts.wait_committed(cat, IDENT, n, b, timeout=60)

        # Conflicts happened on both sides and were retried.
        assert conflicts > 0, "the broker never lost a commit race to PyIceberg"
        assert py_retries.count + app_retries > 0, "PyIceberg never lost a commit race to the broker"
        # The committed offset kept advancing while PyIceberg committed: in
        # the second half of the rounds too (4 s or more; the broker's
        # compaction, losing race after race to PyIceberg while the topic's
        # commits waited for it, once held it still until PyIceberg stopped).
        assert committed_seen == sorted(committed_seen), committed_seen
        assert committed_seen[-1] > committed_seen[len(committed_seen) // 2], committed_seen

        # Nothing lost, nothing twice, on either side.
        rows = table.scan(selected_fields=("offset", "payload", "producer_name")).to_arrow()
        offsets = rows["offset"].to_pylist()
        payloads = rows["payload"].to_pylist()
        names = rows["producer_name"].to_pylist()
        own = sorted((o, p) for o, p, nm in zip(offsets, payloads, names) if nm == OWN)
        own_offsets = [o for o, _ in own]
        dup = [o for o, c in collections.Counter(own_offsets).items() if c > 1]
        assert not dup, f"{len(dup)} offsets more than once, first {sorted(dup)[:5]}"
        assert own_offsets == list(range(n)), first_divergence(own_offsets, n)
        wrong = [o for o, p in own if p != sent[o]]
        assert not wrong, f"{len(wrong)} rows with another payload than acknowledged, first {wrong[:5]}"
        foreign = sorted(o for o, nm in zip(offsets, names) if nm == FOREIGN)
        assert foreign == sorted(appended), f"PyIceberg's rows: {foreign}, want {sorted(appended)}"
        assert len(offsets) == n + len(appended), f"{len(offsets)} rows, want {n} + {len(appended)}"

        # Neither side's commits clobbered the other's properties.
        props = table.properties
        assert props["frazil.committed-offset"] == str(n)
        assert props["pyiceberg.round"] == str(rounds - 1)
        missing = [k for k in range(rounds) if props.get(f"pyiceberg.prop-{k}") != "set"]
        assert not missing, f"PyIceberg's properties of rounds {missing} are gone"
        assert props["commit.retry.num-retries"] == "40"

        # Replay from the table: offsets 0..n-1 once each, in order, none of
        # PyIceberg's rows (they are foreign: outside [0, committed)).
        foreign_before = metric(b, "frazil_replay_foreign_rows_total")
        files_before = metric(b, "frazil_replay_files_read_total")
        got, extra = ts.read_from_earliest(b, TOPIC, "replay", n, timeout=120)
        got_offsets = [m.msg_id.topic_offset for m in got]
        assert got_offsets == list(range(n)), first_divergence(got_offsets, n)
        assert extra is None, f"a message after the last one: {extra.msg_id.topic_offset}"
        assert [m.payload for m in got] == [sent[o] for o in range(n)]
        assert all(m.producer_name != FOREIGN for m in got)
        # The documented handling of foreign rows: files beyond the topic's
        # offsets are logged and not read; rows outside them in files that
        # are read are skipped and counted.
        assert metric(b, "frazil_replay_files_read_total") > files_before, "the replay read no table file"
        skipped = metric(b, "frazil_replay_foreign_rows_total") - foreign_before
        assert skipped >= 2 * straddling, f"{skipped} foreign rows skipped by the replay, want >= {2 * straddling}"
        log = b.log()
        assert "holds no offset the broker committed" in log and IDENT in log, log[-3000:]
        assert "skipped" in log and "at offsets the broker did not commit" in log, log[-3000:]
        errors = [ln for ln in log.splitlines() if "[error]" in ln]
        assert not errors, errors[:5]
    finally:
        pylog.removeHandler(py_retries)
        producer.stopping.set()
