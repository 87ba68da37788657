"""The harness of the shared-table suites (issue 11): one real `frazil serve`
per module, a producer per topic that keeps sending while another engine
works on the topic's table, and the invariants checked after each of that
engine's operations:

(a) every offset below the table's frazil.committed-offset is in the table
    exactly once among the broker's own rows, with the acknowledged payload;
    the foreign rows are exactly those the other engine left there;
(b) the broker keeps committing: the committed offset reaches the highest
    acknowledged offset + 1;
(c) a new subscription from earliest replays 0..N in order, each once, with
    the acknowledged payloads (no gap, no duplicate, no foreign row);
(d) the broker is alive and `GET /admin/topics/<ns>/<t>` shows no lasting
    storage error.
All four are checked and every failure is reported, with the broker's new
warning and error log lines.
"""
import asyncio
import collections
import importlib
import logging
import os
import pathlib
import threading
import time

import grpc

import test_topic_storage as ts
from conftest import Broker

OWN_PRODUCER = "frazil-own"


class _SdkErrors(logging.Handler):
    """The Danube SDK logs each stream error (and retries); the checks quote
    the distinct ones instead of printing every retry."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.seen = []

    def emit(self, record):
        msg = record.getMessage()
        for line in msg.splitlines():
            if "details = " in line:
                msg = line.strip()
        if msg not in self.seen:
            self.seen.append(msg)


SDK_ERRORS = _SdkErrors()
# A logger outside logging's tree (no parent), so pytest's log capture does
# not repeat the SDK's retries thousands of times in a failure report.
_sdk_log = logging.Logger("danube-sdk")
_sdk_log.addHandler(SDK_ERRORS)
for _m in ("consumer", "topic_consumer", "producer", "topic_producer", "health_check"):
    _mod = importlib.import_module(f"danube.{_m}")
    if isinstance(getattr(_mod, "logger", None), logging.Logger):
        _mod.logger = _sdk_log
SHARED_CONFIG = """\
wal:
  sync_mode: none
  segment_bytes: 65536
storage:
  # a file every 0.5 s and a compaction about every 5 s: Spark's rewrites
  # (2-3 s) can win some of their races with the broker's compaction.
  flush_interval_ms: 500
  wal_retain_records: 0
  # Frazil's own upkeep runs during every operation: compaction of runs of 10
  # small files, expiry of snapshots older than 4 s (the newest 3 stay).
  maintenance_interval_ms: 2000
  snapshot_max_age_ms: 4000
  snapshot_min_keep: 3
  compact_min_files: 10
  compact_target_bytes: 4194304
  # 8 days: the orphan the tests plant 7 days in the past is the other
  # engine's to remove, not Frazil's.
  orphan_min_age_ms: 691200000
  # The files only expired snapshots used are deleted 20 s after the
  # expiry, not at once: the other engine's expire_snapshots and
  # remove_orphan_files read the manifest list of every snapshot in the
  # metadata they loaded, which the broker may have expired meanwhile.
  expired_files_grace_ms: 20000
"""


def start_shared_broker(tmp: pathlib.Path) -> Broker:
    cfg = tmp / "shared.yaml"
    cfg.write_text(SHARED_CONFIG)
    b = Broker(tmp / "data", tmp / "frazil.log", ["--config", str(cfg)])
    b.wait_healthy(timeout=30)
    return b


_PRODUCERS = []


def stop_all_producers():
    while _PRODUCERS:
        _PRODUCERS.pop().stop()


class Producer:
    """Sends to one topic from a thread of its own until stopped: 10 sends at
    a time, then a short pause. Keeps every acknowledged offset's payload."""

    def __init__(self, broker, topic):
        self.broker, self.topic = broker, topic
        self.lock = threading.Lock()
        self.sent = {}  # offset -> payload
        self.errors = []
        self.crash = None  # what ended the thread, if not stop()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.thread.start()
        _PRODUCERS.append(self)

    def _main(self):
        try:
            asyncio.run(self._run())
        except BaseException as e:  # noqa: BLE001  (reported by the checks)
            self.crash = f"{type(e).__name__}: {e}"

    async def _run(self):
        p = ts.RawProducer(self.broker.listen_port, self.topic, OWN_PRODUCER)
        await p.create()
        i = 0
        while not self.stopping.is_set():
            batch = list(range(i, i + 10))
            i += 10
            payloads = [b"%s #%07d \x00\xff" % (self.topic.encode(), k) for k in batch]
            results = await asyncio.gather(*[p.send(x, timeout=10) for x in payloads], return_exceptions=True)
            with self.lock:
                for x, r in zip(payloads, results):
                    if isinstance(r, Exception):
                        code = r.code() if isinstance(r, grpc.aio.AioRpcError) else None
                        self.errors.append(f"{code}: {r.details() if code else r}")
                    else:
                        assert r not in self.sent, f"offset {r} acknowledged twice"
                        self.sent[r] = x
            await asyncio.sleep(0.05 if not self.errors else 0.3)
        await p.close()

    def snapshot(self):
        with self.lock:
            return dict(self.sent)

    def max_acked(self):
        with self.lock:
            return max(self.sent) if self.sent else -1

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=30)


class Topic:
    def __init__(self, broker, catalog, name):
        self.broker, self.catalog = broker, catalog
        self.topic, self.ident = f"/default/{name}", f"default.{name}"
        self.spark_name = f"frazil.default.{name}"
        self.producer = Producer(broker, self.topic)
        self.subs = 0

    def table(self):
        return self.catalog.load_table(self.ident)

    def table_dir(self) -> pathlib.Path:
        return self.broker.data_dir.resolve() / "warehouse" / "default" / self.ident.split(".")[1]

    def wait_started(self, rows=300, timeout=60):
        """Until the broker has committed at least `rows` of this topic."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            t = ts.load_table_or_none(self.catalog, self.ident)
            if ts.committed_of(t) >= rows:
                return
            time.sleep(0.2)
        raise AssertionError(f"{self.ident}: not {rows} rows committed after {timeout}s "
                             f"(producer errors: {self.producer.errors[:3]})\n{self.broker.log()[-3000:]}")


def topic_factory(broker):
    """For a `topic` fixture: yields make(name) -> a started Topic on
    `broker`; stops every topic's producer afterwards."""
    topics = []
    cat = ts.open_catalog(broker.data_dir)

    def make(name):
        t = Topic(broker, cat, name)
        topics.append(t)
        t.wait_started()
        return t

    yield make
    for t in topics:
        t.producer.stop()


def log_mark(broker) -> int:
    return len(broker.log())


def new_problem_lines(broker, mark, ident=None, limit=16):
    """The broker's warning/error lines since mark (about `ident` only, when
    given), each distinct text once with its count."""
    counts = collections.OrderedDict()
    for ln in broker.log()[mark:].splitlines():
        if not any(w in ln.lower() for w in ("error", "warn", "fail")):
            continue
        if ident and ident not in ln and "/" + ident.replace(".", "/") not in ln:
            continue
        text = ln.split(" ", 2)[2] if ln[:2] == "20" and ln.count(" ") >= 2 else ln  # without the time
        counts[text] = counts.get(text, 0) + 1
    lines = [f"{t}{f'  (x{n})' if n > 1 else ''}" for t, n in counts.items()]
    if len(lines) > limit:
        lines = lines[:limit // 2] + [f"... {len(lines) - limit} more ..."] + lines[-limit // 2:]
    return "\n".join(lines) or "(none)"


def first_divergence(offsets, want):
    for k, (a, b) in enumerate(zip(offsets, want)):
        if a != b:
            return f"at position {k}: got offset {a}, want {b} (around: {offsets[max(0, k - 3):k + 4]})"
    if len(offsets) != len(want):
        return f"got {len(offsets)} offsets, want {len(want)} (tail: {offsets[-5:]})"
    return None


def check_table_rows(t: Topic, foreign_name, foreign_rows):
    """(a): returns a failure text or None. foreign_rows: how many rows with
    producer_name == foreign_name the other engine left in the table."""
    table = t.table()
    committed = ts.committed_of(table)
    arrow = table.scan(selected_fields=("offset", "payload", "producer_name")).to_arrow()
    offsets = arrow["offset"].to_pylist()
    payloads = arrow["payload"].to_pylist()
    names = arrow["producer_name"].to_pylist()
    sent = t.producer.snapshot()
    own = sorted((o, p) for o, p, n in zip(offsets, payloads, names) if n != foreign_name)
    foreign = sorted(o for o, n in zip(offsets, names) if n == foreign_name)
    problems = []
    counts = collections.Counter(o for o, _ in own)
    dups = sorted(o for o, c in counts.items() if c > 1)
    if dups:
        problems.append(f"{len(dups)} offsets more than once, first {dups[:5]}")
    missing = sorted(o for o in sent if o < committed and o not in counts)
    if missing:
        problems.append(f"{len(missing)} acknowledged offsets below committed {committed} missing, first {missing[:5]}")
    beyond = sorted(o for o in counts if o is None or o >= committed or o < 0)
    if beyond:
        problems.append(f"{len(beyond)} own rows at or above committed {committed}: {beyond[:5]}")
    unsent = sorted(o for o in counts if o is not None and 0 <= o < committed and o not in sent)
    if unsent and max(sent, default=-1) >= committed:  # every offset below committed was acknowledged by now
        problems.append(f"{len(unsent)} rows below committed that were never acknowledged: {unsent[:5]}")
    wrong = [o for o, p in own if o in sent and p != sent[o]]
    if wrong:
        problems.append(f"{len(wrong)} rows with another payload than acknowledged, first offset {wrong[0]}")
    if len(foreign) != foreign_rows:
        problems.append(f"{len(foreign)} foreign rows ({foreign_name}) in the table, want {foreign_rows}: {foreign[:8]}")
    if problems:
        return f"(a) table {t.ident} (committed {committed}, {len(own)} own rows): " + "; ".join(problems)
    return None


def check_producer_progress(t: Topic, more=50, timeout=15):
    """The producer is still being acknowledged (else (b) and (c) prove nothing)."""
    start = t.producer.max_acked()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if t.producer.crash:
            return f"producer thread ended: {t.producer.crash}"
        if t.producer.max_acked() >= start + more:
            return None
        time.sleep(0.1)
    return f"(b) producer: fewer than {more} sends acknowledged in {timeout}s (highest {t.producer.max_acked()}, " \
           f"errors {t.producer.errors[-3:]})"


def check_keeps_committing(t: Topic, timeout=25):
    """(b)."""
    target = t.producer.max_acked() + 1
    deadline = time.monotonic() + timeout
    committed = None
    while time.monotonic() < deadline:
        table = ts.load_table_or_none(t.catalog, t.ident)
        committed = ts.committed_of(table)
        if committed >= target:
            return None
        time.sleep(0.2)
    return f"(b) {t.ident}: committed offset {committed} after {timeout}s, want >= {target} (highest acknowledged + 1)"


def check_replay(t: Topic, timeout=10):
    """(c): a new subscription from earliest."""
    n = t.producer.max_acked()
    t.subs += 1
    sub = f"check-{t.subs}"
    try:
        ts.subscribe_from_earliest(t.broker, t.topic, sub, sub)
    except grpc.RpcError as e:
        return f"(c) subscribe from earliest failed: {e.code()}: {e.details()}"

    SDK_ERRORS.seen.clear()

    async def main():
        client = await ts.client_for(t.broker)
        c, q = await ts.sdk_consumer(client, t.topic, sub, sub)
        try:
            return await ts.consume(c, q, lambda got: got and got[-1].msg_id.topic_offset >= n, timeout=timeout)
        finally:
            await c.close()

    try:
        got = ts.run(main(), timeout=240)
    except AssertionError as e:
        return f"(c) replay of 0..{n} stopped: {e}; the consumer's stream errors: {SDK_ERRORS.seen[:3]}"
    sent = t.producer.snapshot()
    offsets = [m.msg_id.topic_offset for m in got]
    div = first_divergence(offsets, list(range(n + 1)))
    if div:
        return f"(c) replay of 0..{n} not in order/once: {div}"
    bad = [m.msg_id.topic_offset for m in got if m.payload != sent.get(m.msg_id.topic_offset)]
    if bad:
        m = got[bad[0]]
        return f"(c) {len(bad)} replayed payloads differ from the acknowledged ones, first at offset {bad[0]}: " \
               f"{m.payload[:40]!r} ({m.producer_name}) vs {sent.get(bad[0], b'')[:40]!r}"
    return None


def check_broker(t: Topic, deadline):
    """(d): an error may show until `deadline` (the checks' start + 15 s)."""
    if t.broker.proc.poll() is not None:
        return f"(d) broker exited with {t.broker.proc.returncode}"
    err = None
    while True:
        try:
            err = ts.describe(t.broker, t.topic)["table"]["error"]
        except Exception as e:  # noqa: BLE001  (reported below)
            err = f"describe failed: {e}"
        if err is None:
            return None
        if time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    return f"(d) {t.topic}: storage error still shown 15 s after the operation: {err}"


def check_invariants(t: Topic, what, mark, foreign_name="", foreign_rows=0):
    """Runs (a)-(d) after `what`; fails with every broken invariant and the
    broker's warning/error lines since `mark`."""
    failures = []
    d_deadline = time.monotonic() + 15
    alive = t.broker.proc.poll() is None
    for check in (lambda: check_producer_progress(t), lambda: check_keeps_committing(t), lambda: check_table_rows(t, foreign_name, foreign_rows),
                  lambda: check_replay(t), lambda: check_broker(t, d_deadline)):
        try:
            f = check()
        except Exception as e:  # noqa: BLE001  (an exception is a failure of that invariant)
            f = f"{type(e).__name__}: {e}"
        if f:
            failures.append(f)
    if not alive:
        failures.insert(0, f"broker exited with {t.broker.proc.returncode}")
    if t.producer.errors:
        failures.append(f"producer errors ({len(t.producer.errors)}): {t.producer.errors[:3]}")
    assert not failures, f"after {what}:\n  " + "\n  ".join(failures) + \
        f"\nbroker warnings/errors about {t.ident} since the operation:\n{new_problem_lines(t.broker, mark, t.ident)}"


def stale_sidecars(root: pathlib.Path):
    """Hidden `.NAME.crc` files (Hadoop's checksums) whose NAME is gone."""
    out = []
    for crc in root.rglob(".*.crc"):
        if not (crc.parent / crc.name[1:-len(".crc")]).exists():
            out.append(str(crc.relative_to(root)))
    return sorted(out)


def plant_old_orphan(t: Topic, tag) -> pathlib.Path:
    """A file under the table's data directory that no snapshot references,
    last modified 7 days ago."""
    d = t.table_dir() / "data"
    d.mkdir(parents=True, exist_ok=True)
    p = d / f"planted-orphan-{tag}.parquet"
    p.write_bytes(b"PAR1 not referenced by any snapshot PAR1")
    week_ago = time.time() - 7 * 86400
    os.utime(p, (week_ago, week_ago))
    return p


def local_path(location: str) -> pathlib.Path:
    """A local location in any form engines write: file:///p, file:/p, /p."""
    for prefix in ("file://", "file:"):
        if location.startswith(prefix):
            location = location[len(prefix):]
            break
    return pathlib.Path(location)


def referenced_files(table):
    """Every file the table's current metadata reaches: its metadata file,
    the manifest lists of all its snapshots, their manifests, and the data
    and delete files of the current snapshot."""
    refs = [table.metadata_location]
    io = table.io
    for s in table.snapshots():
        refs.append(s.manifest_list)
    snap = table.current_snapshot()
    if snap is not None:
        for m in snap.manifests(io):
            refs.append(m.manifest_path)
            for e in m.fetch_manifest_entry(io, discard_deleted=True):
                refs.append(e.data_file.file_path)
    return refs
