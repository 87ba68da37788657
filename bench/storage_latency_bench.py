"""Produce-to-queryable latency of `frazil serve` with the Iceberg writer on
(issue 6).

Starts the broker given by --frazil with `storage: {enabled: true}` (default
flush interval unless --set storage.flush_interval_ms=...), produces one
message every --interval-ms with the Danube Python SDK, and meanwhile, in a
separate process, polls the topic's table through PyIceberg's SqlCatalog
(catalog `frazil`, sqlite:///DATA_DIR/catalog.db, warehouse
file://DATA_DIR/warehouse): load_table and read the property
`frazil.committed-offset`. A message is queryable once that property is past
its offset (the property is written in the commit that adds its rows).
Latency = first poll that saw it - the acknowledgement of its send, both on
CLOCK_MONOTONIC. Also prints how the latency splits: the snapshot's own
timestamp (when the broker committed it) minus the acknowledgement, and the
poll period (the resolution).

    .venv/bin/python bench/storage_latency_bench.py --frazil build/frazil [--messages 100]
"""
import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

TOPIC = "/bench/latency"
TABLE = "bench.latency"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")


def poller(data_dir, stop, conn, sleep_s):
    """Polls the table until `stop` is set; sends back [(monotonic, committed)] at
    every change and the poll durations."""
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.exceptions import NoSuchTableError
    catalog = SqlCatalog("frazil", uri=f"sqlite:///{data_dir}/catalog.db", warehouse=f"file://{data_dir}/warehouse")
    changes, durations, last = [], [], 0
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            committed = int(catalog.load_table(TABLE).properties.get("frazil.committed-offset", "0"))
        except NoSuchTableError:
            committed = 0
        t1 = time.monotonic()
        durations.append(t1 - t0)
        if committed != last:
            changes.append((t1, committed))
            last = committed
        time.sleep(sleep_s)
    conn.send((changes, durations))


async def produce(port, n, interval_s, payload_bytes):
    from danube import DanubeClientBuilder, DispatchStrategy
    client = await DanubeClientBuilder().service_url(f"http://127.0.0.1:{port}").build()
    p = (client.new_producer().with_topic(TOPIC).with_name("latency")
         .with_dispatch_strategy(DispatchStrategy.RELIABLE).build())
    await p.create()
    payload = bytes((i * 7) % 251 for i in range(payload_bytes))
    acks = {}  # offset -> (monotonic, wall)
    start = time.monotonic()
    for i in range(n):
        await asyncio.sleep(max(0.0, start + i * interval_s - time.monotonic()))
        offset = await p.send(payload, {"i": str(i)})
        acks[offset] = (time.monotonic(), time.time())
    await p.close()
    return acks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frazil", required=True, help="the frazil binary")
    ap.add_argument("--messages", type=int, default=100)
    ap.add_argument("--interval-ms", type=float, default=200)
    ap.add_argument("--payload-bytes", type=int, default=1024)
    ap.add_argument("--poll-sleep-ms", type=float, default=10, help="pause between two polls")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="extra broker config, e.g. wal.sync_mode=none or storage.flush_interval_ms=500")
    ap.add_argument("--dir", help="working directory (default: a new temporary one, removed afterwards)")
    ap.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    a = ap.parse_args()

    work = a.dir or tempfile.mkdtemp(prefix="frazil-latency-")
    if a.dir:
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
    data_dir = os.path.abspath(os.path.join(work, "data"))
    sections = {"storage": {"enabled": "true"}}
    for kv in a.set:
        key, value = kv.split("=", 1)
        section, key = key.split(".", 1)
        sections.setdefault(section, {})[key] = value
    cfg = os.path.join(work, "bench.yaml")
    with open(cfg, "w") as f:
        f.write("log_level: warn\n")
        for section, keys in sections.items():
            f.write(f"{section}:\n" + "".join(f"  {k}: {v}\n" for k, v in keys.items()))
    port, http = free_port(), free_port()
    log = open(os.path.join(work, "broker.log"), "w")
    broker = subprocess.Popen([a.frazil, "serve", "--config", cfg, "--data-dir", data_dir, "--listen",
                               f"127.0.0.1:{port}", "--http", f"127.0.0.1:{http}", "--admin",
                               f"127.0.0.1:{free_port()}"], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http}/healthz", timeout=0.5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if broker.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"broker did not start:\n{open(os.path.join(work, 'broker.log')).read()}")
            time.sleep(0.05)

        ctx = multiprocessing.get_context("spawn")
        stop = ctx.Event()
        recv, send = ctx.Pipe(duplex=False)
        poll_proc = ctx.Process(target=poller, args=(data_dir, stop, send, a.poll_sleep_ms / 1000))
        poll_proc.start()
        acks = asyncio.run(produce(port, a.messages, a.interval_ms / 1000, a.payload_bytes))
        last = max(acks) + 1
        # Let the last message become visible (the poller keeps going).
        wait_until = time.monotonic() + 30
        with urllib.request.urlopen(f"http://127.0.0.1:{http}/admin/topics{TOPIC}", timeout=2) as r:
            describe = json.load(r)
        while time.monotonic() < wait_until:
            with urllib.request.urlopen(f"http://127.0.0.1:{http}/admin/topics{TOPIC}", timeout=2) as r:
                describe = json.load(r)
            if describe["table"]["committed_offset"] >= last:
                break
            time.sleep(0.05)
        time.sleep(0.5)  # at least a few more polls
        stop.set()
        changes, durations = recv.recv()
        poll_proc.join()
    finally:
        broker.send_signal(signal.SIGTERM)
        broker.wait(timeout=30)
        log.close()

    # Snapshot commit times: which offsets each snapshot committed, and when.
    from pyiceberg.catalog.sql import SqlCatalog
    table = SqlCatalog("frazil", uri=f"sqlite:///{data_dir}/catalog.db",
                       warehouse=f"file://{data_dir}/warehouse").load_table(TABLE)
    committed_at = {}  # offset -> snapshot timestamp (wall, seconds)
    for snap in table.snapshots():
        rng = snap.summary.get("frazil.offsets") if snap.summary else None
        if rng:
            lo, hi = (int(x) for x in rng.split("-"))
            for o in range(lo, hi + 1):
                committed_at.setdefault(o, snap.timestamp_ms / 1000)

    visible = {}
    for t, committed in changes:
        for o in acks:
            if o < committed and o not in visible:
                visible[o] = t
    lat = [visible[o] - acks[o][0] for o in acks if o in visible]
    commit_lat = [committed_at[o] - acks[o][1] for o in acks if o in committed_at]
    missing = len(acks) - len(lat)
    poll = statistics.median(durations) + a.poll_sleep_ms / 1000 if durations else float("nan")
    figures = {
        "messages": len(acks), "visible": len(lat), "not_visible": missing,
        "interval_ms": a.interval_ms, "config": sections,
        "p50_s": pct(lat, 0.5), "p99_s": pct(lat, 0.99), "max_s": max(lat) if lat else None,
        "min_s": min(lat) if lat else None, "mean_s": statistics.mean(lat) if lat else None,
        "commit_p50_s": pct(commit_lat, 0.5), "commit_p99_s": pct(commit_lat, 0.99),
        "poll_period_s": poll, "polls": len(durations), "poll_p50_s": statistics.median(durations),
        "snapshots": len(table.snapshots()),
    }
    print(f"produce-to-queryable latency, {len(acks)} messages of {a.payload_bytes} bytes, one every "
          f"{a.interval_ms:.0f} ms, config {json.dumps(sections)}")
    print(f"  ack -> seen by PyIceberg: p50 {figures['p50_s'] * 1000:7.1f} ms  p99 {figures['p99_s'] * 1000:7.1f} ms  "
          f"min {figures['min_s'] * 1000:7.1f} ms  max {figures['max_s'] * 1000:7.1f} ms  ({missing} never seen)")
    print(f"  ack -> snapshot timestamp: p50 {figures['commit_p50_s'] * 1000:7.1f} ms  "
          f"p99 {figures['commit_p99_s'] * 1000:7.1f} ms  ({len(table.snapshots())} snapshots)")
    print(f"  poll period {poll * 1000:.1f} ms ({len(durations)} polls; load_table p50 "
          f"{figures['poll_p50_s'] * 1000:.1f} ms + {a.poll_sleep_ms:.0f} ms pause)")
    if a.json:
        print(json.dumps(figures))
    if not a.dir:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if missing == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
